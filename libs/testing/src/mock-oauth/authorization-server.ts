import { createHash, randomBytes } from 'node:crypto';
import {
  bearerOf,
  googleError,
  header,
  INVALID_CREDENTIALS,
  isObject,
  MISSING_CREDENTIALS,
  startGoogleServer,
  type GoogleMockServer,
  type GoogleReply,
  type GoogleRequest,
  type Json,
} from '../mock-upstream/google-http';

/**
 * An OAuth 2 authorization server for login tests, strict where real ones are:
 * - `GET /oauth/authorize` knows its clients and their registered redirect URIs (loopback
 *   URIs may use any port, RFC 8252 §7.3, when the client allows it), requires `state` and a
 *   PKCE S256 challenge, and redirects back with a short-lived, single-use code;
 * - `POST /oauth/token` (also `/v1/oauth/token`, Anthropic's path) takes the body encoding
 *   its client uses, and for `authorization_code` checks the code (known, unused, unexpired,
 *   issued to this client), the redirect URI, the state where the client sends it, and that
 *   the code verifier hashes to the challenge; `refresh_token` grants rotate (a spent refresh
 *   token is `invalid_grant`). Access tokens are short-lived; `verifyAccessToken` tells an
 *   upstream mock whether one is live;
 * - OpenAI's device login (`/api/accounts/deviceauth/usercode`, `/token`: 403 until the code
 *   was approved, then an authorization code with its verifier), and RFC 8628 device grants
 *   (`POST /oauth/device/code`, Kimi's `/api/oauth/device_authorization`, form-encoded;
 *   `authorization_pending`, `slow_down` when polled faster than the interval,
 *   `expired_token`, `access_denied`), remembering Kimi's `X-Msh-Device-Id` per issued token;
 * - the dialects of the other logins: Google's authorize paths (`/o/oauth2/auth`,
 *   `/o/oauth2/v2/auth`; PKCE optional there, as Google's installed-app clients may omit it)
 *   and token path (`/token`) with the client secret in the form; iFlow's authorize page
 *   (`/oauth`, `redirect` instead of `redirect_uri`, no response_type) and token endpoint
 *   (`/oauth/token`, HTTP Basic client authentication); Kimi's token path (`/api/oauth/token`);
 * - user info: Google's (`GET /oauth2/v1/userinfo`, `/oauth2/v2/userinfo`, Bearer) and
 *   iFlow's (`GET /api/oauth/getUserInfo?accessToken=`, `{success, data: {apiKey, email, phone}}`).
 * Errors use RFC 6749's `{"error", "error_description"}`.
 */

/** Who signs in at the authorize page (or approves a device code). */
export interface MockOAuthAccount {
  email: string;
  /** Provider account id (Anthropic account uuid, ChatGPT account id). */
  accountId: string;
  organization?: { uuid: string; name: string };
  /** ChatGPT plan. */
  plan?: string;
  /** iFlow: the API key its user info hands out (no key: the user info answers success false). */
  apiKey?: string;
  /** iFlow: the phone number of a phone login. */
  phone?: string;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface MockOAuthClient {
  clientId: string;
  /** Exact redirect URIs the client registered. */
  redirectUris: string[];
  /** `http://localhost:<any port>/<same path>` is accepted for a registered loopback URI. */
  anyLoopbackPort?: boolean;
  /** The encoding of its token requests (the other one is refused). */
  tokenBody: 'json' | 'form';
  /** The code exchange must repeat the authorize `state` (Anthropic's). */
  exchangeNeedsState?: boolean;
  /** PKCE S256 at the authorize step: required (default), or optional (Google: verified when a challenge was sent). */
  pkce?: 'required' | 'optional';
  /** A confidential (or installed-app) client's secret, checked on every token request. */
  clientSecret?: string;
  /** Where the secret goes: the form (`client_secret`, Google's) or HTTP Basic (iFlow's). Default form. */
  clientAuth?: 'form' | 'basic';
  /** The authorize page's parameters: OAuth 2's (default) or iFlow's (`redirect`, no response_type). */
  authorizeDialect?: 'oauth2' | 'iflow';
  /** The access token string for an account (e.g. Anthropic's `sk-ant-oat01-...`, ChatGPT's JWT). */
  accessToken(account: MockOAuthAccount, expiresAt: number): string;
  /** The token endpoint's answer around the issued tokens. */
  answer(account: MockOAuthAccount, tokens: IssuedTokens): Json;
}

export interface MockAuthorizationServerOptions {
  clients: MockOAuthClient[];
  /** Who signs in (default a generated account); change `account` between logins. */
  account?: MockOAuthAccount;
  /** Access-token lifetime in seconds (default 3600; short values make tests refresh). */
  accessTokenLifetimeSeconds?: number;
  /** Authorization-code lifetime in seconds (default 60). */
  codeLifetimeSeconds?: number;
  /** Device-code poll interval in seconds (default 1). */
  deviceIntervalSeconds?: number;
  /** Device-code lifetime in seconds (default 600). */
  deviceLifetimeSeconds?: number;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  state: string;
  account: MockOAuthAccount;
  expiresAt: number;
  used: boolean;
}

interface DeviceGrant {
  clientId: string;
  /** Kimi's `X-Msh-Device-Id` at the device authorization request. */
  deviceId?: string;
  userCode: string;
  expiresAt: number;
  intervalMs: number;
  lastPollAt: number;
  approved?: MockOAuthAccount;
  denied?: boolean;
  done: boolean;
}

/** OpenAI's device logins end in an authorization code for this redirect URI. */
export const OPENAI_DEVICE_REDIRECT_URI = 'https://auth.openai.com/deviceauth/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const oauthError = (status: number, error: string, description: string): GoogleReply => ({
  status,
  body: { error, error_description: description },
});
const sha256url = (text: string) => createHash('sha256').update(text, 'ascii').digest('base64url');
const random = (bytes = 18) => randomBytes(bytes).toString('base64url');

export class MockAuthorizationServer {
  /** Every token-endpoint request, its fields decoded. */
  readonly tokenRequests: { path: string; fields: Record<string, unknown> }[] = [];
  /** Who signs in next. */
  account: MockOAuthAccount;
  /** The next authorize request is answered with `error=access_denied` (the user clicked "Deny"). */
  denyNext = false;
  private readonly clients = new Map<string, MockOAuthClient>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly refreshTokens = new Map<string, { clientId: string; account: MockOAuthAccount; spent: boolean }>();
  private readonly accessTokens = new Map<
    string,
    { account: MockOAuthAccount; expiresAt: number; deviceId?: string }
  >();
  private readonly devices = new Map<string, DeviceGrant>();
  private server?: GoogleMockServer;

  constructor(private readonly options: MockAuthorizationServerOptions) {
    for (const client of options.clients) this.clients.set(client.clientId, client);
    this.account = options.account ?? { email: 'login-user@example.com', accountId: 'acct-login-user' };
  }

  get url(): string {
    if (!this.server) throw new Error('mock authorization server is not started');
    return this.server.url;
  }

  async start(): Promise<this> {
    this.server = await startGoogleServer((req) => this.handle(req));
    return this;
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  /** The account an access token was issued to, while it is live. */
  verifyAccessToken(token: string): MockOAuthAccount | undefined {
    const issued = this.accessTokens.get(token);
    return issued && issued.expiresAt > Date.now() ? issued.account : undefined;
  }

  /** Whether an access token was issued here and is live, as upstream mocks' `verifyToken` asks. */
  tokenState(token: string): 'valid' | 'expired' | 'unknown' {
    const issued = this.accessTokens.get(token);
    if (!issued) return 'unknown';
    return issued.expiresAt > Date.now() ? 'valid' : 'expired';
  }

  /** The `X-Msh-Device-Id` the token request that issued an access token carried (Kimi). */
  deviceIdOf(token: string): string | undefined {
    return this.accessTokens.get(token)?.deviceId;
  }

  /** The operator entered a device code (OpenAI's or RFC 8628), signing in as `account`. */
  approveDevice(userCode: string, account: MockOAuthAccount = this.account): void {
    const grant = [...this.devices.values()].find((d) => d.userCode === userCode);
    if (!grant) throw new Error(`no device login with code ${userCode}`);
    grant.approved = account;
  }

  denyDevice(userCode: string): void {
    const grant = [...this.devices.values()].find((d) => d.userCode === userCode);
    if (grant) grant.denied = true;
  }

  /**
   * What a browser does with an authorize URL: the redirect the page sends it to (the
   * `Location`), or the error page's text when the request is refused outright.
   */
  async authorize(authorizeUrl: string): Promise<{ location?: string; status: number; error?: string }> {
    const res = await fetch(authorizeUrl, { redirect: 'manual' });
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, location, error: location ? undefined : await res.text() };
  }

  private async handle(req: GoogleRequest): Promise<GoogleReply> {
    if (req.method === 'GET') {
      switch (req.path) {
        case '/oauth/authorize':
        case '/o/oauth2/auth':
        case '/o/oauth2/v2/auth':
        case '/oauth':
          return this.authorizePage(req.query);
        case '/oauth2/v1/userinfo':
        case '/oauth2/v2/userinfo':
          return this.googleUserInfo(req);
        case '/api/oauth/getUserInfo':
          return this.iflowUserInfo(req.query.accessToken ?? '');
        default:
          return oauthError(404, 'not_found', `no route GET ${req.path}`);
      }
    }
    if (req.method !== 'POST') return oauthError(404, 'not_found', `no route ${req.method} ${req.path}`);
    const type = String(req.headers['content-type'] ?? '');
    const fields: Record<string, unknown> = type.includes('application/json')
      ? isObject(req.body)
        ? req.body
        : {}
      : Object.fromEntries(new URLSearchParams(req.rawBody));
    const encoding = type.includes('application/json')
      ? 'json'
      : type.includes('application/x-www-form-urlencoded')
        ? 'form'
        : 'other';
    switch (req.path) {
      case '/oauth/token':
      case '/v1/oauth/token':
      case '/token':
      case '/api/oauth/token':
        this.tokenRequests.push({ path: req.path, fields });
        return this.token(fields, encoding, req);
      case '/api/accounts/deviceauth/usercode':
        return this.openaiDeviceStart(fields, encoding);
      case '/api/accounts/deviceauth/token':
        return this.openaiDevicePoll(fields, encoding);
      case '/oauth/device/code':
      case '/api/oauth/device_authorization':
        if (encoding !== 'form')
          return oauthError(
            400,
            'invalid_request',
            'device authorization requests are application/x-www-form-urlencoded',
          );
        return this.deviceStart(fields, header(req, 'x-msh-device-id'));
      default:
        return oauthError(404, 'not_found', `no route POST ${req.path}`);
    }
  }

  private redirectAllowed(client: MockOAuthClient, redirectUri: string): boolean {
    if (client.redirectUris.includes(redirectUri)) return true;
    if (!client.anyLoopbackPort) return false;
    let wanted: URL;
    try {
      wanted = new URL(redirectUri);
    } catch {
      return false;
    }
    return client.redirectUris.some((registered) => {
      const url = new URL(registered);
      return (
        url.protocol === 'http:' &&
        url.hostname === 'localhost' &&
        wanted.protocol === 'http:' &&
        wanted.hostname === 'localhost' &&
        wanted.pathname === url.pathname
      );
    });
  }

  private authorizePage(query: Record<string, string>): GoogleReply {
    const client = this.clients.get(query.client_id ?? '');
    // Unknown clients and unregistered redirect URIs get an error page, never a redirect (RFC 6749 §4.1.2.1).
    if (!client)
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid_client: unknown client_id' };
    const iflow = client.authorizeDialect === 'iflow';
    const redirectUri = (iflow ? query.redirect : query.redirect_uri) ?? '';
    if (!this.redirectAllowed(client, redirectUri))
      return {
        status: 400,
        headers: { 'content-type': 'text/plain' },
        body: 'invalid_request: redirect_uri is not registered for this client',
      };
    const back = (params: Record<string, string>) => {
      const url = new URL(redirectUri);
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      return { status: 302, headers: { location: url.toString() }, body: '' };
    };
    const state = query.state ?? '';
    if (!iflow && query.response_type !== 'code') return back({ error: 'unsupported_response_type', state });
    if (!state) return back({ error: 'invalid_request', error_description: 'state is required' });
    const sentChallenge = query.code_challenge !== undefined || query.code_challenge_method !== undefined;
    if (
      (client.pkce !== 'optional' || sentChallenge) &&
      (query.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(query.code_challenge ?? ''))
    ) {
      return back({ error: 'invalid_request', error_description: 'PKCE code_challenge with S256 is required', state });
    }
    if (this.denyNext) {
      this.denyNext = false;
      return back({ error: 'access_denied', error_description: 'The user denied access', state });
    }
    const code = `code-${random()}`;
    this.codes.set(code, {
      clientId: client.clientId,
      redirectUri,
      challenge: query.code_challenge ?? '',
      state,
      account: this.account,
      expiresAt: Date.now() + (this.options.codeLifetimeSeconds ?? 60) * 1000,
      used: false,
    });
    return back({ code, state });
  }

  private token(fields: Record<string, unknown>, encoding: string, req: GoogleRequest): GoogleReply {
    const str = (name: string) => (typeof fields[name] === 'string' ? (fields[name] as string) : '');
    const client = this.clients.get(str('client_id'));
    if (!client) return oauthError(401, 'invalid_client', 'unknown client_id');
    if (encoding !== client.tokenBody)
      return oauthError(
        400,
        'invalid_request',
        `this client sends ${client.tokenBody === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'} token requests`,
      );
    if (!clientAuthenticated(client, str('client_secret'), header(req, 'authorization')))
      return oauthError(401, 'invalid_client', 'client authentication failed');
    const deviceId = header(req, 'x-msh-device-id') || undefined;
    const grantType = str('grant_type');
    if (grantType === 'authorization_code') {
      const pending = this.codes.get(str('code'));
      if (!pending) return oauthError(400, 'invalid_grant', 'authorization code not found');
      if (pending.used) return oauthError(400, 'invalid_grant', 'authorization code already used');
      pending.used = true;
      if (pending.expiresAt <= Date.now()) return oauthError(400, 'invalid_grant', 'authorization code expired');
      if (pending.clientId !== client.clientId)
        return oauthError(400, 'invalid_grant', 'authorization code was issued to another client');
      if (pending.redirectUri !== str('redirect_uri'))
        return oauthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
      if (client.exchangeNeedsState && pending.state !== str('state'))
        return oauthError(400, 'invalid_grant', 'state does not match the authorization request');
      // A code issued without a challenge (a client that does not use PKCE) takes no verifier.
      const verifier = str('code_verifier');
      if (
        pending.challenge &&
        (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || sha256url(verifier) !== pending.challenge)
      ) {
        return oauthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
      }
      return this.issue(client, pending.account, deviceId);
    }
    if (grantType === 'refresh_token') {
      const stored = this.refreshTokens.get(str('refresh_token'));
      if (!stored || stored.clientId !== client.clientId)
        return oauthError(400, 'invalid_grant', 'refresh token not found');
      if (stored.spent) return oauthError(400, 'invalid_grant', 'refresh token already used');
      stored.spent = true;
      return this.issue(client, stored.account, deviceId);
    }
    if (grantType === DEVICE_GRANT) return this.devicePoll(client, str('device_code'), deviceId);
    return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType || '(none)'} is not supported`);
  }

  private issue(client: MockOAuthClient, account: MockOAuthAccount, deviceId?: string): GoogleReply {
    const expiresIn = this.options.accessTokenLifetimeSeconds ?? 3600;
    const expiresAt = Date.now() + expiresIn * 1000;
    const accessToken = client.accessToken(account, expiresAt);
    const refreshToken = `refresh-${random()}`;
    this.accessTokens.set(accessToken, { account, expiresAt, deviceId });
    this.refreshTokens.set(refreshToken, { clientId: client.clientId, account, spent: false });
    return { status: 200, body: client.answer(account, { accessToken, refreshToken, expiresIn }) };
  }

  private newDevice(clientId: string, deviceId?: string): [string, DeviceGrant] {
    const deviceCode = `device-${random()}`;
    const grant: DeviceGrant = {
      clientId,
      deviceId,
      userCode: `${random(3)
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, 'X')
        .slice(0, 4)}-${random(3)
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, 'Y')
        .slice(0, 4)}`,
      expiresAt: Date.now() + (this.options.deviceLifetimeSeconds ?? 600) * 1000,
      intervalMs: (this.options.deviceIntervalSeconds ?? 1) * 1000,
      lastPollAt: 0,
      done: false,
    };
    this.devices.set(deviceCode, grant);
    return [deviceCode, grant];
  }

  private openaiDeviceStart(fields: Record<string, unknown>, encoding: string): GoogleReply {
    const client = this.clients.get(typeof fields.client_id === 'string' ? fields.client_id : '');
    if (encoding !== 'json') return { status: 415, body: { error: { message: 'Unsupported content type' } } };
    if (!client) return { status: 400, body: { error: { message: 'Invalid client_id' } } };
    const [deviceAuthId, grant] = this.newDevice(client.clientId);
    return {
      status: 200,
      body: { device_auth_id: deviceAuthId, user_code: grant.userCode, interval: String(grant.intervalMs / 1000) },
    };
  }

  /** OpenAI: 403 while the code was not entered; then the authorization code and the verifier it was made with. */
  private openaiDevicePoll(fields: Record<string, unknown>, encoding: string): GoogleReply {
    if (encoding !== 'json') return { status: 415, body: { error: { message: 'Unsupported content type' } } };
    const grant = this.devices.get(typeof fields.device_auth_id === 'string' ? fields.device_auth_id : '');
    if (!grant || grant.userCode !== fields.user_code || grant.done)
      return { status: 404, body: { error: { message: 'Device authorization not found' } } };
    if (grant.expiresAt <= Date.now()) return { status: 410, body: { error: { message: 'Device code expired' } } };
    if (grant.denied) return { status: 400, body: { error: { message: 'Device authorization denied' } } };
    if (!grant.approved) return { status: 403, body: { error: { message: 'Device authorization is pending' } } };
    grant.done = true;
    const verifier = random(48);
    const code = `code-${random()}`;
    const challenge = sha256url(verifier);
    this.codes.set(code, {
      clientId: grant.clientId,
      redirectUri: OPENAI_DEVICE_REDIRECT_URI,
      challenge,
      state: '',
      account: grant.approved,
      expiresAt: Date.now() + (this.options.codeLifetimeSeconds ?? 60) * 1000,
      used: false,
    });
    return { status: 200, body: { authorization_code: code, code_verifier: verifier, code_challenge: challenge } };
  }

  /** RFC 8628 §3.1: the device authorization request (form-encoded). */
  private deviceStart(fields: Record<string, unknown>, deviceId: string): GoogleReply {
    const client = this.clients.get(typeof fields.client_id === 'string' ? fields.client_id : '');
    if (!client) return oauthError(401, 'invalid_client', 'unknown client_id');
    const [deviceCode, grant] = this.newDevice(client.clientId, deviceId || undefined);
    const verification = `${this.url}/device`;
    return {
      status: 200,
      body: {
        device_code: deviceCode,
        user_code: grant.userCode,
        verification_uri: verification,
        verification_uri_complete: `${verification}?user_code=${grant.userCode}`,
        expires_in: Math.round((grant.expiresAt - Date.now()) / 1000),
        interval: grant.intervalMs / 1000,
      },
    };
  }

  /** RFC 8628 §3.5: pending, slow_down (polled within the interval; the interval grows by 5 s), denied, expired, or tokens. */
  private devicePoll(client: MockOAuthClient, deviceCode: string, deviceId: string | undefined): GoogleReply {
    const grant = this.devices.get(deviceCode);
    if (!grant || grant.clientId !== client.clientId || grant.done)
      return oauthError(400, 'invalid_grant', 'device_code not found');
    // The device that asked for the code is the one that may collect its token.
    if (grant.deviceId !== undefined && grant.deviceId !== deviceId)
      return oauthError(400, 'invalid_grant', 'device_code was issued to another device');
    const now = Date.now();
    if (grant.expiresAt <= now) return oauthError(400, 'expired_token', 'the device code expired');
    if (grant.denied) return oauthError(400, 'access_denied', 'the user denied the request');
    const tooSoon = grant.lastPollAt && now - grant.lastPollAt < grant.intervalMs;
    grant.lastPollAt = now;
    if (tooSoon) {
      grant.intervalMs += 5000;
      return oauthError(400, 'slow_down', 'polling too frequently');
    }
    if (!grant.approved) return oauthError(400, 'authorization_pending', 'the user has not yet approved the request');
    grant.done = true;
    return this.issue(client, grant.approved, deviceId);
  }

  /** Google's user info: the live Bearer token's account, or Google's 401. */
  private googleUserInfo(req: GoogleRequest): GoogleReply {
    const account = this.verifyAccessToken(bearerOf(req));
    if (!account) return googleError(401, bearerOf(req) ? INVALID_CREDENTIALS : MISSING_CREDENTIALS);
    return {
      status: 200,
      body: {
        id: account.accountId,
        email: account.email,
        verified_email: true,
        picture: 'https://lh3.googleusercontent.com/a/default-user',
      },
    };
  }

  /** iFlow's user info: always 200, `success: false` for an unknown token or an account without a key. */
  private iflowUserInfo(accessToken: string): GoogleReply {
    const account = this.verifyAccessToken(accessToken);
    if (!account?.apiKey)
      return { status: 200, body: { success: false, code: '401', message: 'invalid access token', data: null } };
    return {
      status: 200,
      body: {
        success: true,
        code: '200',
        message: 'success',
        data: { apiKey: account.apiKey, email: account.email, phone: account.phone ?? '', userId: account.accountId },
      },
    };
  }
}

/** Whether a token request authenticates its client as the client requires (public clients need nothing). */
function clientAuthenticated(client: MockOAuthClient, formSecret: string, authorization: string): boolean {
  if (client.clientSecret === undefined) return true;
  if (client.clientAuth === 'basic') {
    const expected = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    return authorization === expected;
  }
  return formSecret === client.clientSecret;
}

/** A JWT without a signature (`alg: none`), as ChatGPT's tokens look to a client that does not verify them. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Anthropic's Claude Code client: JSON token requests repeating the state, loopback redirect on any port. */
export function claudeOAuthClient(clientId: string): MockOAuthClient {
  return {
    clientId,
    redirectUris: ['http://localhost:54545/callback'],
    anyLoopbackPort: true,
    tokenBody: 'json',
    exchangeNeedsState: true,
    accessToken: () => `sk-ant-oat01-${random(24)}`,
    answer: (account, tokens) => ({
      token_type: 'Bearer',
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      expires_in: tokens.expiresIn,
      scope: 'user:inference user:profile',
      organization: account.organization ?? {
        uuid: `org-${account.accountId}`,
        name: `${account.email}'s Organization`,
      },
      account: { uuid: account.accountId, email_address: account.email },
    }),
  };
}

/** OpenAI's Codex CLI client: form-encoded token requests, JWT access and ID tokens naming the ChatGPT account. */
export function codexOAuthClient(clientId: string): MockOAuthClient {
  const auth = (account: MockOAuthAccount) => ({
    chatgpt_account_id: account.accountId,
    chatgpt_plan_type: account.plan ?? 'plus',
  });
  return {
    clientId,
    redirectUris: ['http://localhost:1455/auth/callback', OPENAI_DEVICE_REDIRECT_URI],
    anyLoopbackPort: true,
    tokenBody: 'form',
    accessToken: (account, expiresAt) =>
      unsignedJwt({ exp: Math.floor(expiresAt / 1000), jti: random(), 'https://api.openai.com/auth': auth(account) }),
    answer: (account, tokens) => ({
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      id_token: unsignedJwt({
        email: account.email,
        exp: Math.floor(Date.now() / 1000) + 3600,
        'https://api.openai.com/auth': auth(account),
      }),
      token_type: 'Bearer',
      expires_in: tokens.expiresIn,
    }),
  };
}

/** A Google installed-app client (Gemini CLI, Antigravity): form token requests with the secret, loopback redirects, PKCE optional. */
export function googleOAuthClient(clientId: string, clientSecret: string, redirectUris: string[]): MockOAuthClient {
  return {
    clientId,
    clientSecret,
    redirectUris,
    anyLoopbackPort: true,
    tokenBody: 'form',
    pkce: 'optional',
    accessToken: () => `ya29.login-${random(24)}`,
    answer: (_account, tokens) => ({
      access_token: tokens.accessToken,
      expires_in: tokens.expiresIn,
      refresh_token: tokens.refreshToken,
      scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid',
      token_type: 'Bearer',
    }),
  };
}

/** Kimi Code's public device-flow client: form-encoded requests, no secret. */
export function kimiOAuthClient(clientId: string): MockOAuthClient {
  return {
    clientId,
    redirectUris: [],
    tokenBody: 'form',
    accessToken: () => `kimi-at-${random(24)}`,
    answer: (_account, tokens) => ({
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      token_type: 'Bearer',
      expires_in: tokens.expiresIn,
      scope: 'kimi-code',
    }),
  };
}

/** iFlow's CLI client: its phone-login page, form token requests authenticated with HTTP Basic, no PKCE. */
export function iflowOAuthClient(clientId: string, clientSecret: string): MockOAuthClient {
  return {
    clientId,
    clientSecret,
    clientAuth: 'basic',
    redirectUris: ['http://localhost:11451/oauth2callback'],
    anyLoopbackPort: true,
    tokenBody: 'form',
    pkce: 'optional',
    authorizeDialect: 'iflow',
    accessToken: () => `iflow-at-${random(24)}`,
    answer: (_account, tokens) => ({
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      expires_in: tokens.expiresIn,
      token_type: 'bearer',
      scope: 'read',
    }),
  };
}
