import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CODEX_OAUTH_CLIENT_ID, codexIdentity, TOKEN_URLS } from '../oauth/refreshers';
import {
  endpointUrl,
  fileNamePart,
  isSuccess,
  LoginError,
  tokenEndpointFailure,
  type DeviceLoginFlow,
  type LoginContext,
  type LoginResult,
  type RedirectLoginFlow,
} from './login-flow';

/**
 * Codex (ChatGPT account) logins as the Codex CLI and CLIProxyAPI do them
 * (internal/auth/codex/openai_auth.go, sdk/auth/codex_device.go): auth.openai.com authorize
 * with PKCE S256 and Codex's extra parameters, redirect to http://localhost:1455/auth/callback,
 * form-encoded code exchange; the account id, e-mail and plan come from the id_token's claims.
 * The device flow asks for a user code, polls until the operator entered it (403/404 while
 * pending), then exchanges the authorization code it is given the same way.
 */

const ENDPOINTS = {
  authorize: { env: 'OAUTH_AUTHORIZE_URL_CODEX', url: 'https://auth.openai.com/oauth/authorize' },
  token: TOKEN_URLS.codex,
  deviceCode: { env: 'OAUTH_DEVICE_URL_CODEX', url: 'https://auth.openai.com/api/accounts/deviceauth/usercode' },
  deviceToken: { env: 'OAUTH_DEVICE_TOKEN_URL_CODEX', url: 'https://auth.openai.com/api/accounts/deviceauth/token' },
  deviceVerification: { env: 'OAUTH_DEVICE_VERIFY_URL_CODEX', url: 'https://auth.openai.com/codex/device' },
};

/** The redirect URI OpenAI's device flow hands its authorization codes out for (an identifier, never called). */
export const CODEX_DEVICE_REDIRECT_URI = 'https://auth.openai.com/deviceauth/callback';
const DEVICE_DEFAULT_INTERVAL_SECONDS = 5;
const DEVICE_LIFETIME_SECONDS = 15 * 60;

const TokenAnswerSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().optional(),
  id_token: z.string().optional(),
  expires_in: z.coerce.number().optional(),
});

/** CLIProxyAPI's file name: `codex-<first 8 hex of sha256(account id)>-<email>[-<plan>].json`. */
export function codexFileName(email: string, plan?: string, accountId?: string): string {
  const planPart = (plan ?? '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map((part) => part.toLowerCase())
    .join('-');
  const hash = accountId?.trim() ? createHash('sha256').update(accountId.trim()).digest('hex').slice(0, 8) : '';
  return `codex-${[hash, fileNamePart(email), planPart].filter(Boolean).join('-')}.json`;
}

/** The token file CLIProxyAPI writes after a Codex login. */
export function codexLoginResult(body: unknown, now: Date): LoginResult {
  const parsed = TokenAnswerSchema.safeParse(body);
  if (!parsed.success) throw new LoginError('codex token endpoint answered without an access token');
  const answer = parsed.data;
  const identity = answer.id_token ? codexIdentity(answer.id_token) : {};
  const email = typeof identity.email === 'string' ? identity.email : '';
  const accountId = typeof identity.accountId === 'string' ? identity.accountId : '';
  const plan = typeof identity.planType === 'string' ? identity.planType : '';
  // As CLIProxyAPI: a login whose id_token names no e-mail cannot be told apart from others.
  if (!email) throw new LoginError('codex id_token names no e-mail');
  return {
    fileName: codexFileName(email, plan, accountId),
    tokenFile: {
      type: 'codex',
      id_token: answer.id_token ?? '',
      access_token: answer.access_token,
      refresh_token: answer.refresh_token ?? '',
      account_id: accountId,
      last_refresh: now.toISOString(),
      email,
      expired: new Date(now.getTime() + (answer.expires_in ?? 0) * 1000).toISOString(),
    },
  };
}

async function exchangeCode(
  code: string,
  verifier: string,
  redirectUri: string,
  ctx: LoginContext,
): Promise<LoginResult> {
  const res = await ctx.http.post(endpointUrl(ENDPOINTS.token, ctx.env), {
    form: {
      grant_type: 'authorization_code',
      client_id: CODEX_OAUTH_CLIENT_ID,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    },
  });
  if (!isSuccess(res.status)) throw tokenEndpointFailure('codex', res, [code, verifier]);
  return codexLoginResult(res.body, ctx.now);
}

export const codexLogin: RedirectLoginFlow = {
  kind: 'redirect',
  name: 'codex',
  aliases: ['openai'],
  provider: 'codex',
  route: 'codex',
  endpoints: ENDPOINTS,
  callbackPort: 1455,
  callbackPath: '/auth/callback',
  redirectUri(port = 1455) {
    return `http://localhost:${port}/auth/callback`;
  },
  authorizeUrl({ state, pkce, redirectUri, env }) {
    const url = new URL(endpointUrl(ENDPOINTS.authorize, env));
    for (const [key, value] of Object.entries({
      client_id: CODEX_OAUTH_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid email profile offline_access',
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      prompt: 'login',
      id_token_add_organizations: 'true',
      codex_cli_simplified_flow: 'true',
    })) {
      url.searchParams.set(key, value);
    }
    return url.toString();
  },
  exchange({ code, verifier, redirectUri }, ctx) {
    return exchangeCode(code, verifier, redirectUri, ctx);
  },
};

const UserCodeSchema = z.looseObject({
  device_auth_id: z.string().min(1),
  user_code: z.string().optional(),
  usercode: z.string().optional(),
  interval: z.union([z.string(), z.number()]).optional(),
});
const DeviceTokenSchema = z.looseObject({
  authorization_code: z.string().min(1),
  code_verifier: z.string().min(1),
  code_challenge: z.string().optional(),
});
const PollDataSchema = z.object({ deviceAuthId: z.string(), userCode: z.string() });

/** OpenAI sends the interval as a string or a number of seconds. */
function intervalOf(value: string | number | undefined): number {
  const seconds = typeof value === 'number' ? value : Number.parseInt(value ?? '', 10);
  return Number.isInteger(seconds) && seconds > 0 ? seconds : DEVICE_DEFAULT_INTERVAL_SECONDS;
}

export const codexDeviceLogin: DeviceLoginFlow = {
  kind: 'device',
  name: 'codex-device',
  aliases: [],
  provider: 'codex',
  route: 'codex',
  endpoints: ENDPOINTS,
  async start(ctx) {
    const res = await ctx.http.post(endpointUrl(ENDPOINTS.deviceCode, ctx.env), {
      json: { client_id: CODEX_OAUTH_CLIENT_ID },
    });
    if (res.status === 404) throw new LoginError('codex device login is not available (the endpoint answered 404)');
    if (!isSuccess(res.status)) throw new LoginError(`codex device code request answered ${res.status}`);
    const parsed = UserCodeSchema.safeParse(res.body);
    const userCode = parsed.success ? (parsed.data.user_code ?? parsed.data.usercode ?? '').trim() : '';
    if (!parsed.success || !userCode)
      throw new LoginError('codex device code answer lacks device_auth_id or user_code');
    return {
      verificationUrl: endpointUrl(ENDPOINTS.deviceVerification, ctx.env),
      userCode,
      intervalSeconds: intervalOf(parsed.data.interval),
      expiresInSeconds: DEVICE_LIFETIME_SECONDS,
      pollData: { deviceAuthId: parsed.data.device_auth_id, userCode },
    };
  },
  async poll(pollData, ctx) {
    const { deviceAuthId, userCode } = PollDataSchema.parse(pollData);
    const res = await ctx.http.post(endpointUrl(ENDPOINTS.deviceToken, ctx.env), {
      json: { device_auth_id: deviceAuthId, user_code: userCode },
    });
    // OpenAI answers 403 (or 404) until the code was entered.
    if (res.status === 403 || res.status === 404) return { status: 'pending' };
    if (!isSuccess(res.status)) throw new LoginError(`codex device token polling answered ${res.status}`);
    const parsed = DeviceTokenSchema.safeParse(res.body);
    if (!parsed.success) throw new LoginError('codex device token answer lacks authorization_code or code_verifier');
    return {
      status: 'done',
      result: await exchangeCode(
        parsed.data.authorization_code,
        parsed.data.code_verifier,
        CODEX_DEVICE_REDIRECT_URI,
        ctx,
      ),
    };
  },
};
