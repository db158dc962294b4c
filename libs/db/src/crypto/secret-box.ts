import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Fixed salt: a passphrase must always stretch to the same key, on every pod. */
const PASSPHRASE_SALT = 'cpa-secret-box-v1';
const MIN_PASSPHRASE_LENGTH = 16;

/** The key is missing or unusable; raised at start-up, never carries key material. */
export class SecretKeyError extends Error {
  override readonly name = 'SecretKeyError';
}

/** A ciphertext could not be opened: wrong key, corrupted or tampered data. */
export class SecretDecryptError extends Error {
  override readonly name = 'SecretDecryptError';

  constructor() {
    super('Cannot decrypt secret: wrong CPA_SECRET_KEY, or the stored value was corrupted or tampered with');
  }
}

/**
 * Turns CPA_SECRET_KEY into 32 key bytes. Accepted forms:
 * - 64 hex characters;
 * - base64 or base64url of exactly 32 bytes (e.g. `openssl rand -base64 32`);
 * - any other passphrase of at least 16 characters, stretched with scrypt.
 */
export function parseSecretKey(value: string): Buffer {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
  }
  if (text.length < MIN_PASSPHRASE_LENGTH) {
    throw new SecretKeyError(
      `CPA_SECRET_KEY is too short: use 32 random bytes as base64 or hex (openssl rand -base64 32), ` +
        `or a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  }
  return scryptSync(text, PASSPHRASE_SALT, KEY_BYTES);
}

export interface SecretBoxEnvOptions {
  /** Where the development key lives; default `<repo>/.data/dev-secret.key` (or CPA_DEV_SECRET_FILE). */
  devKeyFile?: string;
}

/**
 * AES-256-GCM for secrets at rest. Serialized form: `v1:<iv b64>:<tag b64>:<ciphertext b64>`
 * with a fresh 96-bit IV per value; the GCM tag makes any tampering a decryption error.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** How the key was obtained: from CPA_SECRET_KEY, or the generated development key file. */
  readonly source: 'env' | 'dev-file' | 'explicit';

  constructor(key: Buffer, source: SecretBox['source'] = 'explicit') {
    if (key.length !== KEY_BYTES) throw new SecretKeyError(`SecretBox needs a ${KEY_BYTES}-byte key`);
    this.key = Buffer.from(key);
    this.source = source;
  }

  static generateKey(): Buffer {
    return randomBytes(KEY_BYTES);
  }

  /**
   * The key from CPA_SECRET_KEY. Without it: a start-up error in production
   * (NODE_ENV=production); otherwise a development key generated once and kept in a file,
   * so restarts and the other local services can still decrypt.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: SecretBoxEnvOptions = {}): SecretBox {
    const configured = env.CPA_SECRET_KEY;
    if (configured && configured.trim() !== '') return new SecretBox(parseSecretKey(configured), 'env');
    if (env.NODE_ENV === 'production') {
      throw new SecretKeyError(
        'CPA_SECRET_KEY is required when NODE_ENV=production: set it to 32 random bytes, ' +
          'e.g. CPA_SECRET_KEY=$(openssl rand -base64 32). Losing it makes stored secrets unreadable.',
      );
    }
    const file = options.devKeyFile ?? env.CPA_DEV_SECRET_FILE ?? defaultDevKeyFile();
    return new SecretBox(loadOrCreateDevKey(file), 'dev-file');
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')].join(':');
  }

  decrypt(serialized: string): string {
    const parts = serialized.split(':');
    if (parts.length !== 4 || parts[0] !== VERSION) throw new SecretDecryptError();
    const [, ivText, tagText, dataText] = parts as [string, string, string, string];
    const iv = Buffer.from(ivText, 'base64');
    const tag = Buffer.from(tagText, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretDecryptError();
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(dataText, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDecryptError();
    }
  }

  encryptJson(value: unknown): string {
    return this.encrypt(JSON.stringify(value));
  }

  decryptJson<T = unknown>(serialized: string): T {
    return JSON.parse(this.decrypt(serialized)) as T;
  }
}

/** `<repo root>/.data/dev-secret.key`, the repo root being the nearest ancestor of cwd with nx.json. */
export function defaultDevKeyFile(cwd: string = process.cwd()): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return join(dir, '.data', 'dev-secret.key');
    const parent = dirname(dir);
    if (parent === dir) return join(resolve(cwd), '.data', 'dev-secret.key');
    dir = parent;
  }
}

function loadOrCreateDevKey(file: string): Buffer {
  if (existsSync(file)) return parseDevKey(file);
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Keeps the key out of git even if the repository's .gitignore does not list the folder.
  const ignore = join(dir, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '*\n');
  // Several local services may start at once: write aside, then link into place atomically;
  // the loser of the race reads the winner's key.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${SecretBox.generateKey().toString('base64')}\n`, { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
  return parseDevKey(file);
}

function parseDevKey(file: string): Buffer {
  try {
    return parseSecretKey(readFileSync(file, 'utf8'));
  } catch {
    throw new SecretKeyError(`Development secret key file ${file} is unreadable; delete it to generate a new one`);
  }
}
