import { z } from 'zod';
import type { OAuthFamily } from './policy';
import type { TokenSet } from './secret';

/** One HTTP request to a token endpoint (always POST). */
export interface TokenRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A family's refresh-token grant: how to ask, and how to read the answer. */
export interface TokenRefresher {
  readonly family: OAuthFamily;
  buildRequest(refreshToken: string, env?: NodeJS.ProcessEnv): TokenRequest;
  /** `body` is the parsed 2xx JSON; throws InvalidTokenResponseError when it carries no access token. */
  parseResponse(body: unknown, refreshToken: string, now: Date): TokenSet;
}

export class InvalidTokenResponseError extends Error {
  override readonly name = 'InvalidTokenResponseError';
}

/** Public client ids of the CLI apps whose logins these credentials come from. */
export const CLAUDE_OAUTH_CLIENT_ID = '9d1c250a-e61b-44d9-88ed-5944d1962f5e';
export const CODEX_OAUTH_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';
export const GEMINI_CLI_OAUTH_CLIENT_ID = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';
/** Google "installed app" secret shipped in the Gemini CLI; not confidential by design. */
export const GEMINI_CLI_OAUTH_CLIENT_SECRET = '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';

const CLAUDE_SCOPE = 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload';
const CODEX_SCOPE = 'openid profile email';

/** Token endpoints, each overridable by env (tests point them at a local mock). */
export const TOKEN_URLS: Readonly<Record<OAuthFamily, { env: string; url: string }>> = {
  claude: { env: 'OAUTH_TOKEN_URL_CLAUDE', url: 'https://platform.claude.com/v1/oauth/token' },
  codex: { env: 'OAUTH_TOKEN_URL_CODEX', url: 'https://auth.openai.com/oauth/token' },
  gemini: { env: 'OAUTH_TOKEN_URL_GEMINI', url: 'https://oauth2.googleapis.com/token' },
};

export function tokenUrl(family: OAuthFamily, env: NodeJS.ProcessEnv = process.env): string {
  const { env: name, url } = TOKEN_URLS[family];
  const override = env[name]?.trim();
  return override ? override : url;
}

/** The standard OAuth 2 token response (RFC 6749 §5.1); providers add their own fields. */
const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().optional(),
  id_token: z.string().optional(),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
  scope: z.string().optional(),
});
type TokenResponse = z.infer<typeof TokenResponseSchema>;

function baseTokenSet(family: OAuthFamily, body: unknown, refreshToken: string, now: Date): { tokens: TokenSet; raw: TokenResponse } {
  const parsed = TokenResponseSchema.safeParse(body);
  if (!parsed.success) throw new InvalidTokenResponseError(`${family} token endpoint answered without an access token`);
  const raw = parsed.data;
  return {
    raw,
    tokens: {
      accessToken: raw.access_token,
      refreshToken: raw.refresh_token?.trim() ? raw.refresh_token : refreshToken,
      expiresAt: raw.expires_in ? new Date(now.getTime() + raw.expires_in * 1000) : null,
      ...(raw.id_token ? { idToken: raw.id_token } : {}),
      ...(raw.token_type ? { tokenType: raw.token_type } : {}),
      extra: {},
    },
  };
}

const ClaudeIdentitySchema = z.object({
  account: z.object({ uuid: z.string().optional(), email_address: z.string().optional() }).optional(),
  organization: z.object({ uuid: z.string().optional(), name: z.string().optional() }).optional(),
});

/** Anthropic console OAuth: JSON body, as the Claude Code CLI sends it. */
export const claudeRefresher: TokenRefresher = {
  family: 'claude',
  buildRequest(refreshToken, env) {
    return {
      url: tokenUrl('claude', env),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: CLAUDE_OAUTH_CLIENT_ID,
        scope: CLAUDE_SCOPE,
      }),
    };
  },
  parseResponse(body, refreshToken, now) {
    const { tokens } = baseTokenSet('claude', body, refreshToken, now);
    const identity = ClaudeIdentitySchema.safeParse(body);
    if (identity.success) {
      const { account, organization } = identity.data;
      tokens.extra = compact({
        email: account?.email_address,
        accountUuid: account?.uuid,
        organizationUuid: organization?.uuid,
        organizationName: organization?.name,
      });
    }
    return tokens;
  },
};

/** OpenAI auth (Codex CLI): form-encoded; the identity comes from the ID token's claims. */
export const codexRefresher: TokenRefresher = {
  family: 'codex',
  buildRequest(refreshToken, env) {
    return {
      url: tokenUrl('codex', env),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        client_id: CODEX_OAUTH_CLIENT_ID,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        scope: CODEX_SCOPE,
      }).toString(),
    };
  },
  parseResponse(body, refreshToken, now) {
    const { tokens } = baseTokenSet('codex', body, refreshToken, now);
    if (tokens.idToken) tokens.extra = codexIdentity(tokens.idToken);
    return tokens;
  },
};

/** Google OAuth with the Gemini CLI's installed-app client: form-encoded, credentials in the body. */
export const geminiRefresher: TokenRefresher = {
  family: 'gemini',
  buildRequest(refreshToken, env) {
    return {
      url: tokenUrl('gemini', env),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
        client_secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
      }).toString(),
    };
  },
  parseResponse(body, refreshToken, now) {
    const { tokens, raw } = baseTokenSet('gemini', body, refreshToken, now);
    if (raw.scope) tokens.extra = { scope: raw.scope };
    return tokens;
  },
};

export const TOKEN_REFRESHERS: Readonly<Record<OAuthFamily, TokenRefresher>> = {
  claude: claudeRefresher,
  codex: codexRefresher,
  gemini: geminiRefresher,
};

const CodexClaimsSchema = z.object({
  email: z.string().optional(),
  'https://api.openai.com/auth': z
    .object({ chatgpt_account_id: z.string().optional(), chatgpt_plan_type: z.string().optional() })
    .optional(),
});

/** Email, ChatGPT account id and plan from a Codex ID token (claims only; the signature is not ours to check). */
export function codexIdentity(idToken: string): Record<string, unknown> {
  const payload = idToken.split('.')[1];
  if (!payload) return {};
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return {};
  }
  const parsed = CodexClaimsSchema.safeParse(claims);
  if (!parsed.success) return {};
  const auth = parsed.data['https://api.openai.com/auth'];
  return compact({ email: parsed.data.email, accountId: auth?.chatgpt_account_id, planType: auth?.chatgpt_plan_type });
}

function compact(fields: Record<string, string | undefined>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined && value !== ''));
}
