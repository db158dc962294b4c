import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unsignedJwt, MockTokenServer } from '@cpa/testing';
import {
  CLAUDE_OAUTH_CLIENT_ID,
  claudeRefresher,
  CODEX_OAUTH_CLIENT_ID,
  codexIdentity,
  codexRefresher,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
  geminiCliRefresher,
  tokenUrl,
} from './refreshers';
import { applyTokenSet } from './secret';
import { OAuthRefreshError, TokenClient } from './token-client';

const NOW = new Date('2025-06-01T12:00:00Z');
const server = new MockTokenServer();
const client = new TokenClient();
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await server.start();
  env = {
    OAUTH_TOKEN_URL_CLAUDE: `${server.url}/claude/token`,
    OAUTH_TOKEN_URL_CODEX: `${server.url}/codex/token`,
    OAUTH_TOKEN_URL_GEMINI: `${server.url}/gemini/token`,
  };
});
afterAll(async () => {
  await client.close();
  await server.stop();
});
beforeEach(() => {
  server.requests.length = 0;
  server.handler = (_req, index) => ({
    status: 200,
    body: {
      access_token: `access-${index + 1}`,
      refresh_token: `refresh-${index + 1}`,
      expires_in: 3600,
      token_type: 'Bearer',
    },
  });
});

describe('token endpoints', () => {
  it("default to the providers' real endpoints", () => {
    expect(tokenUrl('claude', {})).toBe('https://platform.claude.com/v1/oauth/token');
    expect(tokenUrl('codex', {})).toBe('https://auth.openai.com/oauth/token');
    expect(tokenUrl('gemini-cli', {})).toBe('https://oauth2.googleapis.com/token');
  });

  it('are overridden by OAUTH_TOKEN_URL_<FAMILY>', () => {
    expect(tokenUrl('claude', env)).toBe(`${server.url}/claude/token`);
    expect(tokenUrl('codex', env)).toBe(`${server.url}/codex/token`);
    expect(tokenUrl('gemini-cli', env)).toBe(`${server.url}/gemini/token`);
    expect(tokenUrl('gemini-cli', { OAUTH_TOKEN_URL_GEMINI: '  ' })).toBe('https://oauth2.googleapis.com/token');
  });
});

describe('claude refresher', () => {
  it('posts a JSON refresh_token grant with the Claude Code client id', async () => {
    await client.refresh(claudeRefresher, 'rt-claude', { env, now: NOW });
    const [req] = server.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/claude/token');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.fields).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-claude',
      client_id: CLAUDE_OAUTH_CLIENT_ID,
      scope: 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload',
    });
  });

  it('reads rotated tokens, expiry and the account identity', async () => {
    server.handler = () => ({
      status: 200,
      body: {
        access_token: 'sk-ant-oat-new',
        refresh_token: 'sk-ant-ort-new',
        expires_in: 28800,
        token_type: 'Bearer',
        account: { uuid: 'acc-1', email_address: 'dev@example.com' },
        organization: { uuid: 'org-1', name: 'Example' },
      },
    });
    const tokens = await client.refresh(claudeRefresher, 'rt-claude', { env, now: NOW });
    expect(tokens).toEqual({
      accessToken: 'sk-ant-oat-new',
      refreshToken: 'sk-ant-ort-new',
      expiresAt: new Date(NOW.getTime() + 28800_000),
      tokenType: 'Bearer',
      extra: { email: 'dev@example.com', accountUuid: 'acc-1', organizationUuid: 'org-1', organizationName: 'Example' },
    });
  });

  it('keeps the refresh token it sent when none comes back', async () => {
    server.handler = () => ({ status: 200, body: { access_token: 'new-access', expires_in: 60 } });
    const tokens = await client.refresh(claudeRefresher, 'rt-kept', { env, now: NOW });
    expect(tokens.refreshToken).toBe('rt-kept');
    expect(tokens.accessToken).toBe('new-access');
  });
});

describe('codex refresher', () => {
  it('posts a form-encoded refresh_token grant with the Codex client id', async () => {
    await client.refresh(codexRefresher, 'rt-codex', { env, now: NOW });
    const [req] = server.requests;
    expect(req!.path).toBe('/codex/token');
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req!.fields).toEqual({
      client_id: CODEX_OAUTH_CLIENT_ID,
      grant_type: 'refresh_token',
      refresh_token: 'rt-codex',
      scope: 'openid profile email',
    });
  });

  it('reads the ID token and the identity in its claims', async () => {
    const idToken = unsignedJwt({
      email: 'coder@example.com',
      'https://api.openai.com/auth': { chatgpt_account_id: 'acct-42', chatgpt_plan_type: 'plus' },
    });
    server.handler = () => ({
      status: 200,
      body: { access_token: 'codex-access', refresh_token: 'codex-refresh-2', id_token: idToken, expires_in: 864000 },
    });
    const tokens = await client.refresh(codexRefresher, 'rt-codex', { env, now: NOW });
    expect(tokens).toEqual({
      accessToken: 'codex-access',
      refreshToken: 'codex-refresh-2',
      idToken,
      expiresAt: new Date(NOW.getTime() + 864000_000),
      extra: { email: 'coder@example.com', accountId: 'acct-42', planType: 'plus' },
    });
  });

  it('reads nothing from a malformed ID token', () => {
    expect(codexIdentity('not-a-jwt')).toEqual({});
    expect(codexIdentity('a.!!!.c')).toEqual({});
  });
});

describe('gemini-cli refresher', () => {
  it('posts a form-encoded grant with the Gemini CLI client id and secret', async () => {
    await client.refresh(geminiCliRefresher, '1//rt-google', { env, now: NOW });
    const [req] = server.requests;
    expect(req!.path).toBe('/gemini/token');
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req!.fields).toEqual({
      grant_type: 'refresh_token',
      refresh_token: '1//rt-google',
      client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
      client_secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
    });
  });

  it('keeps the refresh token (Google does not rotate it) and reads the scope', async () => {
    server.handler = () => ({
      status: 200,
      body: {
        access_token: 'ya29.new',
        expires_in: 3599,
        token_type: 'Bearer',
        scope: 'openid email',
        id_token: 'x.y.z',
      },
    });
    const tokens = await client.refresh(geminiCliRefresher, '1//rt-google', { env, now: NOW });
    expect(tokens).toEqual({
      accessToken: 'ya29.new',
      refreshToken: '1//rt-google',
      idToken: 'x.y.z',
      tokenType: 'Bearer',
      expiresAt: new Date(NOW.getTime() + 3599_000),
      extra: { scope: 'openid email' },
    });
  });
});

describe('token client failures', () => {
  it('a refused grant is permanent and names status and code, without the token', async () => {
    server.handler = () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Refresh token rt-secret-value is invalid' },
    });
    const error = await client.refresh(claudeRefresher, 'rt-secret-value', { env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthRefreshError);
    const failure = error as OAuthRefreshError;
    expect(failure.status).toBe(400);
    expect(failure.code).toBe('invalid_grant');
    expect(failure.permanent).toBe(true);
    expect(failure.message).toBe(
      'claude token endpoint answered 400 invalid_grant: Refresh token [redacted] is invalid',
    );
    expect(failure.message).not.toContain('rt-secret-value');
  });

  it('reads Anthropic-style error objects', async () => {
    server.handler = () => ({ status: 401, body: { error: { type: 'authentication_error', message: 'bad client' } } });
    const error = (await client.refresh(claudeRefresher, 'rt', { env }).catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error.message).toBe('claude token endpoint answered 401 authentication_error: bad client');
    expect(error.permanent).toBe(true);
  });

  it('reads OpenAI-style error codes: a spent refresh token needs a new login', async () => {
    server.handler = () => ({
      status: 401,
      body: {
        error: {
          message: 'Your refresh token has already been used',
          type: 'invalid_request_error',
          code: 'refresh_token_reused',
        },
      },
    });
    const error = (await client.refresh(codexRefresher, 'rt', { env }).catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error.code).toBe('refresh_token_reused');
    expect(error.permanent).toBe(true);
  });

  it('a 400 or 403 that refuses no grant (a proxy page, a bot filter, a malformed request) is transient', async () => {
    for (const [status, body] of [
      [403, '<html>Just a moment...</html>'],
      [400, 'Bad Request'],
      [400, { error: 'invalid_request', error_description: 'missing parameter' }],
    ] as const) {
      server.handler = () => ({ status, body });
      const error = (await client
        .refresh(claudeRefresher, 'rt', { env })
        .catch((e: unknown) => e)) as OAuthRefreshError;
      expect(error).toBeInstanceOf(OAuthRefreshError);
      expect(error.permanent).toBe(false);
    }
    server.handler = () => ({ status: 403, body: { error: 'unauthorized_client' } });
    expect(
      ((await client.refresh(claudeRefresher, 'rt', { env }).catch((e: unknown) => e)) as OAuthRefreshError).permanent,
    ).toBe(true);
  });

  it('gives up on an endpoint that does not answer in time, a transient failure', async () => {
    server.handler = () =>
      new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: { access_token: 'late' } }), 2_000));
    const impatient = new TokenClient({ timeoutMs: 200 });
    try {
      const started = Date.now();
      const error = (await impatient
        .refresh(claudeRefresher, 'rt', { env })
        .catch((e: unknown) => e)) as OAuthRefreshError;
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(error).toBeInstanceOf(OAuthRefreshError);
      expect(error.message).toBe('claude token endpoint did not answer within 200 ms');
      expect(error.permanent).toBe(false);
    } finally {
      await impatient.close();
    }
  });

  it('5xx and 429 are transient', async () => {
    for (const status of [500, 503, 429]) {
      server.handler = () => ({ status, body: 'upstream trouble' });
      const error = (await client.refresh(codexRefresher, 'rt', { env }).catch((e: unknown) => e)) as OAuthRefreshError;
      expect(error).toBeInstanceOf(OAuthRefreshError);
      expect(error.permanent).toBe(false);
      expect(error.message).toBe(`codex token endpoint answered ${status}`);
    }
  });

  it('a 200 without an access token is an error', async () => {
    server.handler = () => ({ status: 200, body: { refresh_token: 'x' } });
    const error = (await client
      .refresh(geminiCliRefresher, 'rt', { env })
      .catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error).toBeInstanceOf(OAuthRefreshError);
    expect(error.message).toBe('gemini-cli token endpoint answered without an access token');
    expect(error.permanent).toBe(false);
  });

  it('an unreachable endpoint is a transient error naming only the cause', async () => {
    const down = new MockTokenServer();
    await down.start();
    const url = down.url;
    await down.stop();
    const error = (await client
      .refresh(claudeRefresher, 'rt-never-logged', { env: { OAUTH_TOKEN_URL_CLAUDE: `${url}/token` } })
      .catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error).toBeInstanceOf(OAuthRefreshError);
    expect(error.permanent).toBe(false);
    expect(error.message).toBe('claude token endpoint unreachable (ECONNREFUSED)');
  });
});

describe('applyTokenSet', () => {
  it('replaces tokens, keeps other fields and records expiry and refresh time', () => {
    const secret = { accessToken: 'old', refreshToken: 'old-r', expired: '2025-01-01T00:00:00Z', projectId: 'p-1' };
    const next = applyTokenSet(
      secret,
      {
        accessToken: 'new',
        refreshToken: 'new-r',
        expiresAt: new Date('2025-06-01T13:00:00Z'),
        idToken: 'id',
        extra: { email: 'e@x' },
      },
      NOW,
    );
    expect(next).toEqual({
      accessToken: 'new',
      refreshToken: 'new-r',
      idToken: 'id',
      expiresAt: '2025-06-01T13:00:00.000Z',
      lastRefreshAt: '2025-06-01T12:00:00.000Z',
      projectId: 'p-1',
      email: 'e@x',
    });
  });
});
