import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDevKeyFile, parseSecretKey, SecretBox, SecretDecryptError, SecretKeyError } from './secret-box';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'secret-box-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('SecretBox', () => {
  const box = new SecretBox(SecretBox.generateKey());

  it('round-trips strings, including empty and non-ASCII ones', () => {
    for (const text of ['', 'sk-ant-api03-abcdef', 'ключ 🔑 ' + 'x'.repeat(5000)]) {
      expect(box.decrypt(box.encrypt(text))).toBe(text);
    }
  });

  it('round-trips JSON secrets', () => {
    const secret = { accessToken: 'at', refreshToken: 'rt', expiresAt: 1700000000, scopes: ['a', 'b'] };
    expect(box.decryptJson(box.encryptJson(secret))).toEqual(secret);
  });

  it('serializes as v1:<iv>:<tag>:<ciphertext> with a fresh IV each time', () => {
    const first = box.encrypt('same');
    const second = box.encrypt('same');
    expect(first).not.toBe(second);
    const [version, iv, tag, data] = first.split(':');
    expect(version).toBe('v1');
    expect(Buffer.from(iv!, 'base64')).toHaveLength(12);
    expect(Buffer.from(tag!, 'base64')).toHaveLength(16);
    expect(Buffer.from(data!, 'base64')).toHaveLength(4);
    expect(first).not.toContain('same');
  });

  it('detects tampering with the ciphertext, the tag or the IV', () => {
    const [version, iv, tag, data] = box.encrypt('top secret value').split(':') as [string, string, string, string];
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = bytes[0]! ^ 0x01;
      return bytes.toString('base64');
    };
    expect(() => box.decrypt([version, iv, tag, flip(data)].join(':'))).toThrow(SecretDecryptError);
    expect(() => box.decrypt([version, iv, flip(tag), data].join(':'))).toThrow(SecretDecryptError);
    expect(() => box.decrypt([version, flip(iv), tag, data].join(':'))).toThrow(SecretDecryptError);
    expect(() => box.decrypt(['v2', iv, tag, data].join(':'))).toThrow(SecretDecryptError);
    expect(() => box.decrypt('not a ciphertext')).toThrow(SecretDecryptError);
  });

  it('fails to decrypt under another key, without echoing the data', () => {
    const sealed = box.encrypt('sk-live-should-not-leak');
    const other = new SecretBox(SecretBox.generateKey());
    expect(() => other.decrypt(sealed)).toThrow(SecretDecryptError);
    try {
      other.decrypt(sealed);
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(sealed.split(':')[3]);
    }
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(SecretKeyError);
  });
});

describe('parseSecretKey', () => {
  const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));

  it('accepts hex, base64 and base64url encodings of 32 bytes', () => {
    expect(parseSecretKey(raw.toString('hex'))).toEqual(raw);
    expect(parseSecretKey(raw.toString('base64'))).toEqual(raw);
    expect(parseSecretKey(raw.toString('base64url'))).toEqual(raw);
    expect(parseSecretKey(`  ${raw.toString('base64')}\n`)).toEqual(raw);
  });

  it('stretches a passphrase deterministically', () => {
    const key = parseSecretKey('correct horse battery staple');
    expect(key).toHaveLength(32);
    expect(parseSecretKey('correct horse battery staple')).toEqual(key);
    expect(parseSecretKey('correct horse battery stapler')).not.toEqual(key);
  });

  it('refuses short passphrases', () => {
    expect(() => parseSecretKey('hunter2')).toThrow(SecretKeyError);
  });
});

describe('SecretBox.fromEnv', () => {
  it('uses CPA_SECRET_KEY when set', () => {
    const key = SecretBox.generateKey();
    const a = SecretBox.fromEnv({ CPA_SECRET_KEY: key.toString('base64'), NODE_ENV: 'production' });
    const b = new SecretBox(key);
    expect(a.source).toBe('env');
    expect(b.decrypt(a.encrypt('x'))).toBe('x');
  });

  it('is a clear start-up error in production without a key', () => {
    expect(() => SecretBox.fromEnv({ NODE_ENV: 'production' })).toThrow(SecretKeyError);
    expect(() => SecretBox.fromEnv({ NODE_ENV: 'production', CPA_SECRET_KEY: '  ' })).toThrow(
      /CPA_SECRET_KEY is required/,
    );
  });

  it('generates a development key once and reuses it across restarts', () => {
    const file = join(tempDir(), 'nested', 'dev-secret.key');
    const first = SecretBox.fromEnv({}, { devKeyFile: file });
    expect(first.source).toBe('dev-file');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(readFileSync(join(file, '..', '.gitignore'), 'utf8')).toBe('*\n');
    const sealed = first.encrypt('survives restarts');
    const second = SecretBox.fromEnv({ NODE_ENV: 'development' }, { devKeyFile: file });
    expect(second.decrypt(sealed)).toBe('survives restarts');
  });

  it('honours CPA_DEV_SECRET_FILE and reports an unreadable key file', () => {
    const file = join(tempDir(), 'dev.key');
    writeFileSync(file, 'short');
    expect(() => SecretBox.fromEnv({ CPA_DEV_SECRET_FILE: file })).toThrow(SecretKeyError);
  });

  it('places the default development key under the repository root', () => {
    const root = tempDir();
    writeFileSync(join(root, 'nx.json'), '{}');
    const nested = join(root, 'apps', 'gateway');
    expect(defaultDevKeyFile(nested)).toBe(join(root, '.data', 'dev-secret.key'));
  });
});
