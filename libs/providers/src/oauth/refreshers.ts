import { z } from 'zod';
import { ANTIGRAVITY_USER_AGENT, antigravityBases, CODE_ASSIST_VERSION } from '../families/code-assist';
import { kimiDeviceHeaders, kimiDeviceId } from '../families/kimi';
import { joinUrl } from '../provider-adapter';
import type { OAuthFamily } from './policy';
import type { TokenSet } from './secret';
import {
  JWT_BEARER_GRANT,
  serviceAccountOf,
  serviceAccountTokenUri,
  signServiceAccountAssertion,
} from './service-account';

/** One HTTP request to a token endpoint (POST), or a lookup made with new tokens (POST, or GET without a body). */
export interface TokenRequest {
  url: string;
  /** Default POST. */
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body: string;
}

/**
 * A family's grant: how to ask, and how to read the answer. The grant is the stored refresh
 * token, unless the family makes its own from the secret (`grantOf`: Vertex signs a JWT).
 */
export interface TokenRefresher {
  readonly family: OAuthFamily;
  /** The grant made from the stored secret; throws (naming no secret) when the secret cannot make one. */
  grantOf?(secret: Record<string, unknown>, now: Date): string;
  buildRequest(
    grant: string,
    env?: NodeJS.ProcessEnv,
    secret?: Record<string, unknown>,
    credentialId?: string,
  ): TokenRequest;
  /** `body` is the parsed 2xx JSON; throws InvalidTokenResponseError when it carries no access token. */
  parseResponse(body: unknown, grant: string, now: Date): TokenSet;
  /**
   * Facts to store beside the new tokens that only a call made with them can tell
   * (Antigravity's Code Assist project, when the secret has none; iFlow's API key). `post`
   * sends one request and answers the 2xx JSON or undefined; a lookup that fails leaves the
   * facts out, never the tokens.
   */
  complete?(
    tokens: TokenSet,
    secret: Record<string, unknown>,
    post: (req: TokenRequest) => Promise<unknown>,
    env?: NodeJS.ProcessEnv,
  ): Promise<Record<string, unknown>>;
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
/** Antigravity's own Google installed-app client (from CLIProxyAPI's antigravity auth); not confidential by design. */
export const ANTIGRAVITY_OAUTH_CLIENT_ID = '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com';
export const ANTIGRAVITY_OAUTH_CLIENT_SECRET = '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';
/** Kimi Code's public device-flow client (CLIProxyAPI internal/auth/kimi). */
export const KIMI_OAUTH_CLIENT_ID = '17e5f671-d194-4dfb-9706-5516cb48c098';
/** The client iFlow issued for its CLI (CLIProxyAPI internal/auth/iflow); shipped in the CLI, not confidential. */
export const IFLOW_OAUTH_CLIENT_ID = '10009311001';
export const IFLOW_OAUTH_CLIENT_SECRET = '4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW';
/** Where an iFlow access token is exchanged for the account's API key (`?accessToken=`). */
export const IFLOW_USER_INFO = { env: 'IFLOW_USER_INFO_URL', url: 'https://iflow.cn/api/oauth/getUserInfo' } as const;

const CLAUDE_SCOPE = 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload';
const CODEX_SCOPE = 'openid profile email';

/** Token endpoints, each overridable by env (tests point them at a local mock). */
export const TOKEN_URLS: Readonly<Record<OAuthFamily, { env: string; url: string }>> = {
  claude: { env: 'OAUTH_TOKEN_URL_CLAUDE', url: 'https://platform.claude.com/v1/oauth/token' },
  codex: { env: 'OAUTH_TOKEN_URL_CODEX', url: 'https://auth.openai.com/oauth/token' },
  // Gemini CLI and Antigravity logins are both Google accounts: one endpoint, two clients.
  'gemini-cli': { env: 'OAUTH_TOKEN_URL_GEMINI', url: 'https://oauth2.googleapis.com/token' },
  antigravity: { env: 'OAUTH_TOKEN_URL_GEMINI', url: 'https://oauth2.googleapis.com/token' },
  // Vertex posts to its service account's token_uri; the variable overrides that.
  vertex: { env: 'OAUTH_TOKEN_URL_VERTEX', url: 'https://oauth2.googleapis.com/token' },
  kimi: { env: 'OAUTH_TOKEN_URL_KIMI', url: 'https://auth.kimi.com/api/oauth/token' },
  iflow: { env: 'OAUTH_TOKEN_URL_IFLOW', url: 'https://iflow.cn/oauth/token' },
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

function baseTokenSet(
  family: OAuthFamily,
  body: unknown,
  refreshToken: string,
  now: Date,
): { tokens: TokenSet; raw: TokenResponse } {
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

/** A Google installed-app client's refresh-token grant: form-encoded, client credentials in the body. */
function googleRefresher(family: 'gemini-cli' | 'antigravity', clientId: string, clientSecret: string): TokenRefresher {
  return {
    family,
    buildRequest(refreshToken, env) {
      return {
        url: tokenUrl(family, env),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
          client_secret: clientSecret,
        }).toString(),
      };
    },
    parseResponse(body, refreshToken, now) {
      const { tokens, raw } = baseTokenSet(family, body, refreshToken, now);
      if (raw.scope) tokens.extra = { scope: raw.scope };
      return tokens;
    },
  };
}

/** Gemini CLI logins: Google OAuth with the Gemini CLI's installed-app client. */
export const geminiCliRefresher = googleRefresher(
  'gemini-cli',
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
);

const LoadCodeAssistSchema = z.looseObject({
  cloudaicompanionProject: z.union([z.string(), z.looseObject({ id: z.string().optional() })]).optional(),
});

/**
 * Antigravity logins: Google OAuth with Antigravity's client. A login without a Code Assist
 * project gets it from `loadCodeAssist` (as Antigravity itself does) with the new token.
 */
export const antigravityRefresher: TokenRefresher = {
  ...googleRefresher('antigravity', ANTIGRAVITY_OAUTH_CLIENT_ID, ANTIGRAVITY_OAUTH_CLIENT_SECRET),
  async complete(tokens, secret, post, env) {
    if (typeof secret.projectId === 'string' && secret.projectId.trim()) return {};
    // The same bases requests use, in the same order: the first that answers decides.
    for (const base of antigravityBases('', env)) {
      const answer = await post({
        url: joinUrl(base, `/${CODE_ASSIST_VERSION}:loadCodeAssist`),
        headers: {
          'content-type': 'application/json',
          accept: '*/*',
          authorization: `Bearer ${tokens.accessToken}`,
          'user-agent': ANTIGRAVITY_USER_AGENT,
        },
        body: JSON.stringify({ metadata: { ideType: 'ANTIGRAVITY' } }),
      });
      if (answer === undefined) continue;
      const parsed = LoadCodeAssistSchema.safeParse(answer);
      const project = parsed.success ? parsed.data.cloudaicompanionProject : undefined;
      const id = (typeof project === 'string' ? project : project?.id)?.trim();
      return id ? { projectId: id } : {};
    }
    return {};
  },
};

/**
 * Vertex service accounts: no refresh token; every refresh is a JWT-bearer grant (RFC 7523)
 * signed with the account's private key, posted to its token_uri (or OAUTH_TOKEN_URL_VERTEX).
 */
export const vertexRefresher: TokenRefresher = {
  family: 'vertex',
  grantOf(secret, now) {
    return signServiceAccountAssertion(serviceAccountOf(secret), now);
  },
  buildRequest(assertion, env = process.env, secret = {}) {
    const override = env[TOKEN_URLS.vertex.env]?.trim();
    return {
      url: override || serviceAccountTokenUri(serviceAccountOf(secret)),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
    };
  },
  parseResponse(body, _assertion, now) {
    const { tokens } = baseTokenSet('vertex', body, '', now);
    // The assertion is single-use material, not a refresh token: nothing to keep.
    delete tokens.refreshToken;
    return tokens;
  },
};

/**
 * Kimi Code (device-flow logins): form-encoded refresh with the public client id and Kimi
 * CLI's device headers, the login's device id included (as CLIProxyAPI's refresh sends them).
 */
export const kimiRefresher: TokenRefresher = {
  family: 'kimi',
  buildRequest(refreshToken, env, secret = {}, credentialId = '') {
    return {
      url: tokenUrl('kimi', env),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...kimiDeviceHeaders(kimiDeviceId(secret, credentialId)),
      },
      body: new URLSearchParams({
        client_id: KIMI_OAUTH_CLIENT_ID,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      }).toString(),
    };
  },
  parseResponse(body, refreshToken, now) {
    const { tokens, raw } = baseTokenSet('kimi', body, refreshToken, now);
    if (raw.scope) tokens.extra = { scope: raw.scope };
    return tokens;
  },
};

/** iFlow's user info answer (`GET ?accessToken=`), as the refresh and the login read it. */
export const IFlowUserInfoSchema = z.looseObject({
  success: z.literal(true),
  data: z.looseObject({ apiKey: z.string().trim().min(1), email: z.string().optional(), phone: z.string().optional() }),
});

/**
 * iFlow: form-encoded refresh with the client credentials both as HTTP Basic and in the form
 * (as the iFlow CLI sends them). Requests use the account's API key, not the access token,
 * so every refresh reads the key (and the account's e-mail, else phone) again from the user
 * info with the new token, as CLIProxyAPI does.
 */
export const iflowRefresher: TokenRefresher = {
  family: 'iflow',
  buildRequest(refreshToken, env) {
    const basic = Buffer.from(`${IFLOW_OAUTH_CLIENT_ID}:${IFLOW_OAUTH_CLIENT_SECRET}`).toString('base64');
    return {
      url: tokenUrl('iflow', env),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${basic}`,
      },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: IFLOW_OAUTH_CLIENT_ID,
        client_secret: IFLOW_OAUTH_CLIENT_SECRET,
      }).toString(),
    };
  },
  parseResponse(body, refreshToken, now) {
    const { tokens, raw } = baseTokenSet('iflow', body, refreshToken, now);
    if (raw.scope) tokens.extra = { scope: raw.scope };
    return tokens;
  },
  async complete(tokens, _secret, post, env = process.env) {
    const base = env[IFLOW_USER_INFO.env]?.trim() || IFLOW_USER_INFO.url;
    const answer = await post({
      url: `${base}?accessToken=${encodeURIComponent(tokens.accessToken)}`,
      method: 'GET',
      headers: { accept: 'application/json' },
      body: '',
    });
    const parsed = IFlowUserInfoSchema.safeParse(answer);
    if (!parsed.success) return {};
    const { apiKey, email, phone } = parsed.data.data;
    // The key is a secret like the tokens: it is stored in the encrypted secret only.
    return { apiKey, ...compact({ email: email?.trim() || phone?.trim() }) };
  },
};

export const TOKEN_REFRESHERS: Readonly<Record<OAuthFamily, TokenRefresher>> = {
  claude: claudeRefresher,
  codex: codexRefresher,
  'gemini-cli': geminiCliRefresher,
  antigravity: antigravityRefresher,
  vertex: vertexRefresher,
  kimi: kimiRefresher,
  iflow: iflowRefresher,
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
