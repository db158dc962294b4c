import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ProxyUrlSchema } from '../proxy-url';
import { compact, stableStringify } from '../reconcile';

/**
 * CLIProxyAPI's OAuth token files (auth-dir/*.json) as credentials, and back. Pure: no I/O.
 *
 * A file is a flat snake_case JSON object with a `type`; the type decides the token fields
 * (internal/auth/<type>/token.go in CLIProxyAPI), and every type may carry the same routing
 * fields (disabled, prefix, proxy_url, priority, weight, excluded_models, note, headers,
 * request_retry, disable_cooling). Token fields go into the encrypted secret (camelCase),
 * routing fields into columns and attributes, unknown fields into the secret untouched so a
 * download gives them back.
 */

/** Token-file type -> the provider its credentials belong to. */
export const TOKEN_FILE_PROVIDERS = {
  claude: 'claude',
  codex: 'codex',
  gemini: 'gemini-cli',
  vertex: 'vertex',
  antigravity: 'antigravity',
  kimi: 'kimi',
  iflow: 'iflow',
} as const;
export type TokenFileType = keyof typeof TOKEN_FILE_PROVIDERS;
export const TOKEN_FILE_TYPES = Object.keys(TOKEN_FILE_PROVIDERS) as TokenFileType[];

export const isTokenFileType = (value: unknown): value is TokenFileType =>
  typeof value === 'string' && Object.hasOwn(TOKEN_FILE_PROVIDERS, value);

/** Vertex's default region (CLIProxyAPI's vertex executor). */
export const DEFAULT_VERTEX_LOCATION = 'us-central1';

/** A file that cannot become credentials; the message names the file and the field, never a value. */
export class TokenFileError extends Error {
  constructor(
    readonly fileName: string,
    readonly reason: string,
  ) {
    super(`${fileName}: ${reason}`);
    this.name = 'TokenFileError';
  }
}

/** Non-secret facts about a file-backed credential, kept in `credentials.attributes`. */
export interface AuthFileAttributes {
  [key: string]: unknown;
  fileName: string;
  fileType: TokenFileType;
  /** SHA-256 of the file as last imported: an unchanged file never overwrites refreshed tokens. */
  fileHash: string;
  /** `disabled` as the file said at the last import (an operator's switch survives re-imports). */
  fileDisabled: boolean;
  /** gemini: every project of the file, in file order (one credential each). */
  fileProjects?: string[];
  /** gemini: the file also had the token fields at its top level (CLIProxyAPI writes both after a refresh). */
  fileTopLevelToken?: boolean;
  excludedModels?: string[];
  headers?: Record<string, string>;
  note?: string;
  requestRetry?: number;
  disableCooling?: boolean;
}

/** One credential a token file becomes (gemini files with several projects become several). */
export interface CredentialDraft {
  id: string;
  provider: (typeof TOKEN_FILE_PROVIDERS)[TokenFileType];
  kind: 'oauth';
  label: string;
  account: string;
  prefix: string;
  priority: number;
  weight: number;
  disabled: boolean;
  proxyUrl: string;
  attributes: AuthFileAttributes;
  /** The camelCase secret JSON (encrypted at rest). */
  secret: Record<string, unknown>;
  expiresAt: Date | null;
  lastRefreshAt: Date | null;
}

/** Rejects names that could leave a directory, and names that are not .json (CLIProxyAPI's rules). */
export function authFileNameProblem(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed || /[/\\]/.test(trimmed) || /^[A-Za-z]:/.test(trimmed) || trimmed === '.json') return 'invalid name';
  if (!trimmed.toLowerCase().endsWith('.json')) return 'name must end with .json';
  return undefined;
}

/**
 * The credential id of a file (CLIProxyAPI uses the file's name under auth-dir as the auth id;
 * a gemini file with several projects gives `<name>::<project>` per project, as its virtual auths).
 */
export function authFileCredentialId(fileName: string, project?: string): string {
  return project ? `${fileName}::${project.replace(/[/\\ ]/g, '_')}` : fileName;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Legacy config-style keys CLIProxyAPI still reads (NormalizeCredentialMetadata); snake_case wins. */
const LEGACY_KEYS: Record<string, string> = {
  'disable-cooling': 'disable_cooling',
  'excluded-models': 'excluded_models',
  'proxy-url': 'proxy_url',
  'request-retry': 'request_retry',
  'model-aliases': 'model_aliases',
};

function normalizeKeys(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const canonical = LEGACY_KEYS[key];
    if (!canonical) out[key] = value;
    else if (!(canonical in raw)) out[canonical] = value;
  }
  return out;
}

/** Integers may be written as strings (`"priority": "5"`), as CLIProxyAPI accepts. */
const intLike = z.union([z.number(), z.string()], 'must be an integer').transform((value, ctx) => {
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(n)) return n;
  ctx.addIssue({ code: 'custom', message: 'must be an integer' });
  return z.NEVER;
});
const optionalText = z.string().optional();
const timeLike = z.union([z.string(), z.number()]).optional();

const CommonFieldsSchema = z.object({
  disabled: z.boolean('disabled must be true or false').optional(),
  prefix: optionalText,
  proxy_url: ProxyUrlSchema.optional(),
  // Stored in 32-bit integer columns.
  priority: intLike.refine((p) => Math.abs(p) <= 2 ** 31 - 1, 'priority is out of range').optional(),
  weight: intLike.refine((w) => w <= 1_000_000, 'weight must not exceed 1000000').optional(),
  excluded_models: z.array(z.string()).optional(),
  note: optionalText,
  headers: z.record(z.string(), z.string()).optional(),
  request_retry: intLike.refine((r) => r <= 1000, 'request_retry must not exceed 1000').optional(),
  disable_cooling: z.boolean().optional(),
});
type CommonFields = z.infer<typeof CommonFieldsSchema>;
const COMMON_KEYS = Object.keys(CommonFieldsSchema.shape);

const hasToken = (file: { access_token?: string; refresh_token?: string }) =>
  Boolean(file.access_token?.trim() || file.refresh_token?.trim());
const TOKEN_REQUIRED = 'access_token or refresh_token is required';

const ClaudeFileSchema = z
  .object({
    access_token: optionalText,
    refresh_token: optionalText,
    id_token: optionalText,
    email: optionalText,
    expired: timeLike,
    last_refresh: timeLike,
    account_uuid: optionalText,
    organization_uuid: optionalText,
    organization_name: optionalText,
  })
  .refine(hasToken, TOKEN_REQUIRED);

const CodexFileSchema = z
  .object({
    access_token: optionalText,
    refresh_token: optionalText,
    id_token: optionalText,
    account_id: optionalText,
    email: optionalText,
    expired: timeLike,
    last_refresh: timeLike,
  })
  .refine(hasToken, TOKEN_REQUIRED);

/** Go's oauth2.Token as JSON, plus whatever the Gemini CLI stored beside it (client_id, scopes, ...). */
const GoogleTokenSchema = z.looseObject({
  access_token: optionalText,
  refresh_token: optionalText,
  token_type: optionalText,
  expiry: timeLike,
});

const GeminiFileSchema = z
  .object({
    token: GoogleTokenSchema.optional(),
    // CLIProxyAPI also writes the current token at the top level after a refresh.
    access_token: optionalText,
    refresh_token: optionalText,
    token_type: optionalText,
    expiry: timeLike,
    project_id: optionalText,
    email: optionalText,
    auto: z.boolean().optional(),
    checked: z.boolean().optional(),
  })
  .refine(
    (file) => hasToken(file.token ?? {}) || hasToken(file),
    'token.access_token or token.refresh_token is required',
  );

const VertexFileSchema = z.object({
  service_account: z.looseObject(
    {
      // Not trimmed: the service account goes back out byte for byte (the PEM ends with a newline).
      client_email: z
        .string('service_account.client_email is required')
        .refine((v) => v.trim() !== '', 'service_account.client_email is required'),
      private_key: z
        .string('service_account.private_key is required')
        .refine((v) => v.trim() !== '', 'service_account.private_key is required'),
      project_id: optionalText,
    },
    'service_account must be the service account JSON object',
  ),
  project_id: optionalText,
  email: optionalText,
  location: optionalText,
});

const AntigravityFileSchema = z
  .object({
    access_token: optionalText,
    refresh_token: optionalText,
    expires_in: z.number().optional(),
    timestamp: z.number().optional(),
    expired: timeLike,
    email: optionalText,
    project_id: optionalText,
  })
  .refine(hasToken, TOKEN_REQUIRED);

/** internal/auth/kimi/token.go KimiTokenStorage, plus the last_refresh a refresh adds. */
const KimiFileSchema = z
  .object({
    access_token: optionalText,
    refresh_token: optionalText,
    token_type: optionalText,
    scope: optionalText,
    device_id: optionalText,
    expired: timeLike,
    last_refresh: timeLike,
  })
  .refine(hasToken, TOKEN_REQUIRED);

/**
 * internal/auth/iflow/iflow_token.go IFlowTokenStorage. OAuth logins carry tokens and the API
 * key read from the user info; cookie logins carry only the key, its cookie and the key's
 * expiry as `2006-01-02 15:04`.
 */
const IFlowFileSchema = z
  .object({
    access_token: optionalText,
    refresh_token: optionalText,
    last_refresh: timeLike,
    expired: timeLike,
    api_key: optionalText,
    email: optionalText,
    token_type: optionalText,
    scope: optionalText,
    cookie: optionalText,
  })
  .refine(
    (file) => hasToken(file) || Boolean(file.api_key?.trim()),
    'api_key, access_token or refresh_token is required',
  );

/** iFlow's cookie logins write the API key's expiry in this layout (Go "2006-01-02 15:04"), kept as written. */
const IFLOW_KEY_EXPIRY = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/;

const TYPE_SCHEMAS = {
  claude: ClaudeFileSchema,
  codex: CodexFileSchema,
  gemini: GeminiFileSchema,
  vertex: VertexFileSchema,
  antigravity: AntigravityFileSchema,
  kimi: KimiFileSchema,
  iflow: IFlowFileSchema,
} satisfies Record<TokenFileType, z.ZodType>;

/** The fields a type knows (the rest of a file is kept verbatim as `extraFields`). */
const typeKeys = (type: TokenFileType): string[] => Object.keys(TYPE_SCHEMAS[type].shape);

/** ISO/RFC 3339 text, or epoch seconds (below 1e11) or milliseconds; anything else is "unknown". */
export function parseFileTime(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0)
    return new Date(value < 1e11 ? value * 1000 : value);
  if (typeof value !== 'string' || !value.trim()) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseFileTime(Number(text));
  // Go writes "2006-01-02 15:04:05" in some versions; Date.parse reads it as local time, so pin UTC.
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** RFC 3339 as Go's time.RFC3339 writes it (whole seconds, `Z`); sub-second precision kept when present. */
export function formatFileTime(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

const isoOf = (value: unknown): string | undefined => {
  const date = parseFileTime(value);
  return date ? formatFileTime(date) : undefined;
};

const text = (value: string | undefined): string | undefined => (value?.trim() ? value.trim() : undefined);

function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join('.');
  // Custom messages already name their field; generic ones get the path in front.
  return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
}

function parseWith<S extends z.ZodType>(fileName: string, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new TokenFileError(fileName, issueMessage(result.error));
  return result.data;
}

/** The file's text (or already parsed JSON) as an object with canonical keys. */
function readObject(fileName: string, content: string | Buffer | object): Record<string, unknown> {
  let raw: unknown = content;
  if (typeof content === 'string' || Buffer.isBuffer(content)) {
    const body = content.toString().replace(/^\uFEFF/, '');
    if (!body.trim()) throw new TokenFileError(fileName, 'the file is empty');
    try {
      raw = JSON.parse(body);
    } catch {
      throw new TokenFileError(fileName, 'not valid JSON');
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new TokenFileError(fileName, 'a token file must be a JSON object');
  return normalizeKeys(raw as Record<string, unknown>);
}

/** Fingerprint of a file's content, independent of key order and whitespace. */
export function tokenFileHash(file: Record<string, unknown>): string {
  return createHash('sha256').update(stableStringify(file)).digest('hex');
}

/** CLIProxyAPI's prefix rule: trimmed, slashes at the ends removed, none inside (else ignored). */
function cleanPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').trim().replace(/^\/+|\/+$/g, '');
  return trimmed && !trimmed.includes('/') ? trimmed : '';
}

function routingOf(common: CommonFields) {
  const excluded = common.excluded_models?.map((m) => m.trim()).filter(Boolean);
  const note = common.note?.trim();
  return {
    prefix: cleanPrefix(common.prefix),
    proxyUrl: common.proxy_url?.trim() ?? '',
    priority: common.priority ?? 0,
    // Negative weights mean 0 (never picked by weighted round robin), as CLIProxyAPI's Normalize.
    weight: common.weight === undefined ? 1 : Math.max(0, common.weight),
    disabled: common.disabled ?? false,
    attributes: compact({
      excludedModels: excluded?.length ? excluded : undefined,
      headers: common.headers && Object.keys(common.headers).length ? common.headers : undefined,
      note: note || undefined,
      // A negative request_retry means "unset" in CLIProxyAPI.
      requestRetry: common.request_retry !== undefined && common.request_retry >= 0 ? common.request_retry : undefined,
      disableCooling: common.disable_cooling,
    }),
  };
}

interface TypedSecret {
  secret: Record<string, unknown>;
  /** gemini: the projects, one credential each. */
  projects?: string[];
  topLevelToken?: boolean;
}

function secretOf(type: TokenFileType, fileName: string, file: Record<string, unknown>): TypedSecret {
  switch (type) {
    case 'claude': {
      const f = parseWith(fileName, ClaudeFileSchema, file);
      return {
        secret: compact({
          accessToken: text(f.access_token),
          refreshToken: text(f.refresh_token),
          idToken: text(f.id_token),
          email: text(f.email),
          expiresAt: isoOf(f.expired),
          lastRefreshAt: isoOf(f.last_refresh),
          accountUuid: text(f.account_uuid),
          organizationUuid: text(f.organization_uuid),
          organizationName: text(f.organization_name),
        }),
      };
    }
    case 'codex': {
      const f = parseWith(fileName, CodexFileSchema, file);
      return {
        secret: compact({
          accessToken: text(f.access_token),
          refreshToken: text(f.refresh_token),
          idToken: text(f.id_token),
          accountId: text(f.account_id),
          email: text(f.email),
          expiresAt: isoOf(f.expired),
          lastRefreshAt: isoOf(f.last_refresh),
        }),
      };
    }
    case 'gemini': {
      const f = parseWith(fileName, GeminiFileSchema, file);
      const { access_token, refresh_token, token_type, expiry, ...tokenExtra } = f.token ?? {};
      // The nested token is the one CLIProxyAPI reads first; the top-level copy fills gaps.
      const projects = [
        ...new Set(
          (f.project_id ?? '')
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
        ),
      ];
      return {
        secret: compact({
          accessToken: text(access_token) ?? text(f.access_token),
          refreshToken: text(refresh_token) ?? text(f.refresh_token),
          tokenType: text(token_type) ?? text(f.token_type),
          expiresAt: isoOf(expiry) ?? isoOf(f.expiry),
          tokenExtra: Object.keys(tokenExtra).length ? tokenExtra : undefined,
          email: text(f.email),
          auto: f.auto,
          checked: f.checked,
        }),
        projects,
        topLevelToken: f.access_token !== undefined || f.refresh_token !== undefined,
      };
    }
    case 'vertex': {
      const f = parseWith(fileName, VertexFileSchema, file);
      const account = f.service_account;
      return {
        secret: compact({
          serviceAccount: account,
          projectId: text(f.project_id) ?? text(account.project_id),
          location: text(f.location) ?? DEFAULT_VERTEX_LOCATION,
          email: text(f.email) ?? account.client_email.trim(),
        }),
      };
    }
    case 'antigravity': {
      const f = parseWith(fileName, AntigravityFileSchema, file);
      const derived =
        f.timestamp !== undefined && f.expires_in !== undefined
          ? new Date(f.timestamp + f.expires_in * 1000)
          : undefined;
      return {
        secret: compact({
          accessToken: text(f.access_token),
          refreshToken: text(f.refresh_token),
          expiresIn: f.expires_in,
          timestamp: f.timestamp,
          expiresAt: isoOf(f.expired) ?? (derived ? formatFileTime(derived) : undefined),
          lastRefreshAt: f.timestamp !== undefined ? isoOf(f.timestamp) : undefined,
          email: text(f.email),
          projectId: text(f.project_id),
        }),
      };
    }
    case 'kimi': {
      const f = parseWith(fileName, KimiFileSchema, file);
      return {
        secret: compact({
          accessToken: text(f.access_token),
          refreshToken: text(f.refresh_token),
          tokenType: text(f.token_type),
          scope: text(f.scope),
          deviceId: text(f.device_id),
          expiresAt: isoOf(f.expired),
          lastRefreshAt: isoOf(f.last_refresh),
        }),
      };
    }
    case 'iflow': {
      const f = parseWith(fileName, IFlowFileSchema, file);
      const keyExpiry =
        typeof f.expired === 'string' && IFLOW_KEY_EXPIRY.test(f.expired.trim()) ? f.expired.trim() : undefined;
      return {
        secret: compact({
          accessToken: text(f.access_token),
          refreshToken: text(f.refresh_token),
          apiKey: text(f.api_key),
          email: text(f.email),
          tokenType: text(f.token_type),
          scope: text(f.scope),
          cookie: text(f.cookie),
          // A cookie login's date is the API key's, not a token's: kept verbatim, never refreshed.
          apiKeyExpired: keyExpiry,
          expiresAt: keyExpiry ? undefined : isoOf(f.expired),
          lastRefreshAt: isoOf(f.last_refresh),
        }),
      };
    }
  }
}

/**
 * Parses one token file into the credentials it describes. Throws TokenFileError (naming the
 * file and the problem, never a value) for a bad name, broken JSON, an unknown type or a
 * missing required field.
 */
export function parseTokenFile(fileName: string, content: string | Buffer | object): CredentialDraft[] {
  const name = fileName.trim();
  const nameProblem = authFileNameProblem(name);
  if (nameProblem) throw new TokenFileError(fileName || '(unnamed)', nameProblem);
  const file = readObject(name, content);
  const type = typeof file.type === 'string' ? file.type.trim().toLowerCase() : '';
  if (!type) throw new TokenFileError(name, 'type is required');
  if (!isTokenFileType(type))
    throw new TokenFileError(
      name,
      `unknown token-file type "${type.slice(0, 40)}" (supported: ${TOKEN_FILE_TYPES.join(', ')})`,
    );
  const common = parseWith(name, CommonFieldsSchema, pick(file, COMMON_KEYS));
  const { secret, projects, topLevelToken } = secretOf(type, name, file);
  const known = new Set(['type', ...COMMON_KEYS, ...typeKeys(type)]);
  const extra = Object.fromEntries(Object.entries(file).filter(([key]) => !known.has(key)));
  if (Object.keys(extra).length) secret.extraFields = extra;

  const routing = routingOf(common);
  const provider = TOKEN_FILE_PROVIDERS[type];
  const email = typeof secret.email === 'string' ? secret.email : '';
  const base: Omit<CredentialDraft, 'id' | 'label' | 'secret'> = {
    provider,
    kind: 'oauth',
    account: email,
    prefix: routing.prefix,
    priority: routing.priority,
    weight: routing.weight,
    disabled: routing.disabled,
    proxyUrl: routing.proxyUrl,
    attributes: {
      fileName: name,
      fileType: type,
      fileHash: tokenFileHash(file),
      fileDisabled: routing.disabled,
      ...(topLevelToken ? { fileTopLevelToken: true } : {}),
      ...routing.attributes,
    },
    expiresAt: parseFileTime(secret.expiresAt) ?? null,
    lastRefreshAt: parseFileTime(secret.lastRefreshAt) ?? null,
  };
  const label = email || provider;
  if (!projects || projects.length <= 1) {
    return [
      {
        ...base,
        id: authFileCredentialId(name),
        label,
        secret: compact({ ...secret, projectId: secret.projectId ?? projects?.[0] }),
      },
    ];
  }
  return projects.map((project) => ({
    ...base,
    id: authFileCredentialId(name, project),
    label: `${label} [${project}]`,
    attributes: { ...base.attributes, fileProjects: projects },
    secret: { ...secret, projectId: project },
  }));
}

function pick(file: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((key) => file[key] !== undefined && file[key] !== null).map((key) => [key, file[key]]),
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** What rendering needs of a stored credential (a row of `credentials` plus its decrypted secret). */
export interface StoredAuthFileCredential {
  id: string;
  prefix: string;
  priority: number;
  weight: number;
  disabled: boolean;
  proxyUrl: string;
  attributes: Record<string, unknown>;
  expiresAt: Date | null;
  lastRefreshAt: Date | null;
  secret: Record<string, unknown>;
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
/** A time from the secret, else the column (the refresh worker keeps both). */
const timeOf = (secretValue: unknown, column: Date | null): string => {
  const date = parseFileTime(secretValue) ?? column ?? undefined;
  return date ? formatFileTime(date) : '';
};

function renderTyped(type: TokenFileType, c: StoredAuthFileCredential, projects: string[]): Record<string, unknown> {
  const s = c.secret;
  switch (type) {
    case 'claude':
      // Go writes these fields even when empty (no omitempty); the uuids are omitempty.
      return {
        id_token: str(s.idToken),
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        last_refresh: timeOf(s.lastRefreshAt, c.lastRefreshAt),
        email: str(s.email),
        expired: timeOf(s.expiresAt, c.expiresAt),
        ...compact({
          account_uuid: s.accountUuid,
          organization_uuid: s.organizationUuid,
          organization_name: s.organizationName,
        }),
      };
    case 'codex':
      return {
        id_token: str(s.idToken),
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        account_id: str(s.accountId),
        last_refresh: timeOf(s.lastRefreshAt, c.lastRefreshAt),
        email: str(s.email),
        expired: timeOf(s.expiresAt, c.expiresAt),
      };
    case 'gemini': {
      const expiry = timeOf(s.expiresAt, c.expiresAt);
      const current = compact({
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        token_type: str(s.tokenType) || undefined,
        expiry: expiry || undefined,
      });
      const tokenExtra =
        s.tokenExtra && typeof s.tokenExtra === 'object' ? (s.tokenExtra as Record<string, unknown>) : {};
      return {
        token: sortKeys({ ...tokenExtra, ...current }),
        ...(c.attributes.fileTopLevelToken ? current : {}),
        project_id: projects.join(','),
        email: str(s.email),
        auto: s.auto === true,
        checked: s.checked === true,
      };
    }
    case 'vertex':
      return {
        service_account: s.serviceAccount ?? {},
        project_id: str(s.projectId),
        email: str(s.email),
        location: str(s.location) || DEFAULT_VERTEX_LOCATION,
      };
    case 'antigravity': {
      const expiresAt = parseFileTime(s.expiresAt) ?? c.expiresAt ?? undefined;
      let timestamp = typeof s.timestamp === 'number' ? s.timestamp : undefined;
      let expiresIn = typeof s.expiresIn === 'number' ? s.expiresIn : undefined;
      // After a refresh the expiry moved: restate timestamp/expires_in from the refresh time so the three agree.
      if (
        expiresAt &&
        (timestamp === undefined || expiresIn === undefined || timestamp + expiresIn * 1000 !== expiresAt.getTime())
      ) {
        const refreshedAt = parseFileTime(s.lastRefreshAt) ?? c.lastRefreshAt ?? undefined;
        if (refreshedAt) {
          timestamp = refreshedAt.getTime();
          expiresIn = Math.max(0, Math.round((expiresAt.getTime() - timestamp) / 1000));
        }
      }
      return {
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        ...compact({ expires_in: expiresIn, timestamp }),
        expired: expiresAt ? formatFileTime(expiresAt) : '',
        email: str(s.email),
        project_id: str(s.projectId),
      };
    }
    case 'kimi':
      // token_type has no omitempty in KimiTokenStorage; the rest do. last_refresh is written after a refresh.
      return {
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        token_type: str(s.tokenType),
        ...compact({
          scope: str(s.scope) || undefined,
          device_id: str(s.deviceId) || undefined,
          expired: timeOf(s.expiresAt, c.expiresAt) || undefined,
          last_refresh: timeOf(s.lastRefreshAt, c.lastRefreshAt) || undefined,
        }),
      };
    case 'iflow':
      // IFlowTokenStorage has no omitempty: every field is written.
      return {
        access_token: str(s.accessToken),
        refresh_token: str(s.refreshToken),
        last_refresh: timeOf(s.lastRefreshAt, c.lastRefreshAt),
        expired: str(s.apiKeyExpired) || timeOf(s.expiresAt, c.expiresAt),
        api_key: str(s.apiKey),
        email: str(s.email),
        token_type: str(s.tokenType),
        scope: str(s.scope),
        cookie: str(s.cookie),
      };
  }
}

function renderCommon(c: StoredAuthFileCredential): Record<string, unknown> {
  const a = c.attributes;
  return compact({
    disabled: c.disabled || undefined,
    prefix: c.prefix || undefined,
    proxy_url: c.proxyUrl || undefined,
    priority: c.priority || undefined,
    weight: c.weight === 1 ? undefined : c.weight,
    excluded_models: Array.isArray(a.excludedModels) && a.excludedModels.length ? a.excludedModels : undefined,
    note: typeof a.note === 'string' && a.note ? a.note : undefined,
    headers: a.headers && typeof a.headers === 'object' && Object.keys(a.headers).length ? a.headers : undefined,
    request_retry: typeof a.requestRetry === 'number' ? a.requestRetry : undefined,
    disable_cooling: typeof a.disableCooling === 'boolean' ? a.disableCooling : undefined,
  });
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The token file of stored credentials, in CLIProxyAPI's format with the current tokens
 * (keys sorted, as Go's encoder writes a map). `credentials` are the rows of one file: one,
 * or one per project for a gemini file; the freshest tokens among them are written.
 */
export function renderTokenFile(credentials: readonly StoredAuthFileCredential[]): Record<string, unknown> {
  if (!credentials.length) throw new Error('renderTokenFile needs at least one credential');
  const type = credentials[0].attributes.fileType;
  if (!isTokenFileType(type)) throw new Error(`credential ${credentials[0].id} is not file-backed`);
  const freshness = (c: StoredAuthFileCredential) =>
    (parseFileTime(c.secret.lastRefreshAt) ?? c.lastRefreshAt)?.getTime() ?? 0;
  const freshest = [...credentials].sort((a, b) => freshness(b) - freshness(a))[0];
  const projects = projectOrder(credentials);
  const extra =
    freshest.secret.extraFields && typeof freshest.secret.extraFields === 'object'
      ? (freshest.secret.extraFields as Record<string, unknown>)
      : {};
  // Routing fields come from the file's first credential, so a change to one project shows consistently.
  const first = credentials.find((c) => str(c.secret.projectId) === projects[0]) ?? credentials[0];
  return sortKeys({ ...extra, ...renderTyped(type, freshest, projects), ...renderCommon(first), type });
}

/** The projects of a gemini file in the order the file listed them; projects added later go last. */
function projectOrder(credentials: readonly StoredAuthFileCredential[]): string[] {
  const present = credentials.map((c) => str(c.secret.projectId)).filter(Boolean);
  const listed = credentials.flatMap((c) =>
    Array.isArray(c.attributes.fileProjects) ? (c.attributes.fileProjects as string[]) : [],
  );
  const order = [...new Set([...listed, ...present])];
  return order.filter((p) => present.includes(p));
}
