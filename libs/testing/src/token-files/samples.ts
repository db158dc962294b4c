import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unsignedJwt } from '../mock-oauth/authorization-server';

/**
 * CLIProxyAPI token files (auth-dir/*.json) of every type, shaped as its token storages write
 * them (internal/auth/<type>/token.go, sdk/auth/antigravity.go; keys sorted as Go's encoder
 * writes a map). Tokens are fakes. Times are RFC 3339 in UTC with whole seconds, the form a
 * download writes, so a file survives an import/download round trip byte for byte in JSON terms.
 */

export const CODEX_ID_TOKEN = unsignedJwt({
  email: 'codex-user@example.com',
  'https://api.openai.com/auth': { chatgpt_account_id: 'acct-codex-1', chatgpt_plan_type: 'plus' },
});

/** A syntactically plausible (not usable) PEM key; the JWT grant is exercised against a mock token server elsewhere. */
export const FAKE_PRIVATE_KEY =
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-fake-key-for-tests\n-----END PRIVATE KEY-----\n';

export const TOKEN_FILE_SAMPLES = {
  'claude-user@example.com.json': {
    access_token: 'sk-ant-oat01-claude-access-token',
    account_uuid: '3f9b2c1e-0000-4000-8000-000000000001',
    email: 'user@example.com',
    expired: '2030-01-01T08:00:00Z',
    id_token: '',
    last_refresh: '2030-01-01T00:00:00Z',
    organization_name: 'Example Org',
    organization_uuid: '3f9b2c1e-0000-4000-8000-000000000002',
    refresh_token: 'sk-ant-ort01-claude-refresh-token',
    type: 'claude',
  },
  'codex-codex-user@example.com-plus.json': {
    access_token: 'codex-access-token',
    account_id: 'acct-codex-1',
    email: 'codex-user@example.com',
    expired: '2030-01-10T00:00:00Z',
    id_token: CODEX_ID_TOKEN,
    last_refresh: '2030-01-01T00:00:00Z',
    refresh_token: 'codex-refresh-token',
    type: 'codex',
  },
  'gemini-user@gmail.com-my-project.json': {
    auto: false,
    checked: true,
    email: 'user@gmail.com',
    project_id: 'my-project',
    token: {
      access_token: 'ya29.gemini-access-token',
      client_id: '681255809395-example.apps.googleusercontent.com',
      expiry: '2030-01-01T01:00:00Z',
      refresh_token: '1//gemini-refresh-token',
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      token_type: 'Bearer',
      token_uri: 'https://oauth2.googleapis.com/token',
    },
    type: 'gemini',
  },
  /** Several projects: one credential per project. CLIProxyAPI also writes the token at the top level after a refresh. */
  'gemini-team@gmail.com-all.json': {
    access_token: 'ya29.team-access-token',
    auto: true,
    checked: true,
    email: 'team@gmail.com',
    expiry: '2030-01-01T01:00:00Z',
    project_id: 'proj-alpha,proj-beta,proj-gamma',
    refresh_token: '1//team-refresh-token',
    token: {
      access_token: 'ya29.team-access-token',
      expiry: '2030-01-01T01:00:00Z',
      refresh_token: '1//team-refresh-token',
      token_type: 'Bearer',
    },
    token_type: 'Bearer',
    type: 'gemini',
  },
  'vertex-my-gcp-project.json': {
    email: 'router@my-gcp-project.iam.gserviceaccount.com',
    location: 'europe-west4',
    project_id: 'my-gcp-project',
    service_account: {
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      client_email: 'router@my-gcp-project.iam.gserviceaccount.com',
      client_id: '100000000000000000001',
      private_key: FAKE_PRIVATE_KEY,
      private_key_id: 'key-id-1',
      project_id: 'my-gcp-project',
      token_uri: 'https://oauth2.googleapis.com/token',
      type: 'service_account',
    },
    type: 'vertex',
  },
  'antigravity-ag-user@gmail.com.json': {
    access_token: 'ya29.antigravity-access-token',
    email: 'ag-user@gmail.com',
    expired: '2030-01-01T01:00:00Z',
    expires_in: 3600,
    project_id: 'ag-project-123',
    refresh_token: '1//antigravity-refresh-token',
    timestamp: 1893456000000,
    type: 'antigravity',
  },
  /** A Kimi device-flow login (internal/auth/kimi/token.go); `timestamp` is the login's metadata, kept verbatim. */
  'kimi-1893456000000.json': {
    access_token: 'kimi-access-token',
    device_id: '6f1c2d3e-0000-4000-8000-000000000001',
    expired: '2030-01-01T00:15:00Z',
    refresh_token: 'kimi-refresh-token',
    scope: 'kimi-code',
    timestamp: 1893456000000,
    token_type: 'Bearer',
    type: 'kimi',
  },
  /** An iFlow OAuth login (internal/auth/iflow/iflow_token.go: every field, no omitempty); requests use api_key. */
  'iflow-iflow-user@example.com.json': {
    access_token: 'iflow-access-token',
    api_key: 'sk-iflow-api-key',
    cookie: '',
    email: 'iflow-user@example.com',
    expired: '2030-01-03T00:00:00Z',
    last_refresh: '2030-01-01T00:00:00Z',
    refresh_token: 'iflow-refresh-token',
    scope: 'read',
    token_type: 'bearer',
    type: 'iflow',
  },
  /** An iFlow cookie login: the API key and the date it expires, no OAuth tokens. */
  'iflow-cookie-user.json': {
    access_token: '',
    api_key: 'sk-iflow-cookie-key',
    cookie: 'BXAuth=cookie-value;',
    email: 'cookie-user',
    expired: '2030-02-01 12:00',
    last_refresh: '2030-01-01T00:00:00Z',
    refresh_token: '',
    scope: '',
    token_type: '',
    type: 'iflow',
  },
  /** Every routing field a token file may carry, plus a field this router does not know (kept verbatim). */
  'claude-routed@example.com.json': {
    access_token: 'sk-ant-oat01-routed-access',
    claude_device_ids: ['device-1'],
    disable_cooling: true,
    disabled: true,
    email: 'routed@example.com',
    excluded_models: ['claude-opus-*', 'claude-3-*'],
    expired: '2030-02-01T00:00:00Z',
    headers: { 'X-Team': 'blue' },
    id_token: '',
    last_refresh: '2030-01-31T20:00:00Z',
    note: 'team blue account',
    prefix: 'blue',
    priority: 5,
    proxy_url: 'socks5://127.0.0.1:1080',
    refresh_token: 'sk-ant-ort01-routed-refresh',
    request_retry: 2,
    type: 'claude',
    weight: 3,
  },
} as const satisfies Record<string, Record<string, unknown>>;

export type TokenFileSampleName = keyof typeof TOKEN_FILE_SAMPLES;

/** Files an import must refuse, each for its own reason (file name -> raw text). */
export const BROKEN_TOKEN_FILES = {
  'not-json.json': '{"type": "claude", "access_token": ',
  'unknown-type.json': JSON.stringify({ type: 'qwen-next', access_token: 'x' }),
  'no-type.json': JSON.stringify({ access_token: 'x' }),
  'claude-without-tokens.json': JSON.stringify({ type: 'claude', email: 'nobody@example.com' }),
  'vertex-without-key.json': JSON.stringify({
    type: 'vertex',
    service_account: { client_email: 'a@b.iam.gserviceaccount.com' },
  }),
  'iflow-without-key.json': JSON.stringify({ type: 'iflow', email: 'nobody@example.com', cookie: '' }),
  'array.json': '[]',
} as const;

/** Writes token files into `dir` (created when missing); values that are strings are written as-is. */
export function writeTokenFiles(dir: string, files: Record<string, object | string>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, content]) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`, {
      mode: 0o600,
    });
    return path;
  });
}
