/**
 * Logins through the admin's management API against a mock authorization server that checks
 * what real ones check (PKCE, state, redirect URI, client id): auth-url, the pasted or browser
 * callback, get-auth-status, and the refusals of forged, expired and reused states.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Events } from '@cpa/contracts';
import { CLAUDE_OAUTH_CLIENT_ID, CODEX_OAUTH_CLIENT_ID } from '@cpa/providers';
import { claudeOAuthClient, codexOAuthClient, MockAuthorizationServer } from '@cpa/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '@cpa/db/testing';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-logins';
const auth = new MockAuthorizationServer({
  clients: [claudeOAuthClient(CLAUDE_OAUTH_CLIENT_ID), codexOAuthClient(CODEX_OAUTH_CLIENT_ID)],
  deviceIntervalSeconds: 1,
});
const ENV_KEYS = [
  'OAUTH_AUTHORIZE_URL_CLAUDE',
  'OAUTH_TOKEN_URL_CLAUDE',
  'OAUTH_AUTHORIZE_URL_CODEX',
  'OAUTH_TOKEN_URL_CODEX',
  'OAUTH_DEVICE_URL_CODEX',
  'OAUTH_DEVICE_TOKEN_URL_CODEX',
  'OAUTH_DEVICE_VERIFY_URL_CODEX',
];
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

let admin: AdminUnderTest;
let db: TestDatabase;
let app: NestFastifyApplication;
let events: AdminUnderTest['events'];

beforeAll(async () => {
  await auth.start();
  Object.assign(process.env, {
    OAUTH_AUTHORIZE_URL_CLAUDE: `${auth.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CLAUDE: `${auth.url}/v1/oauth/token`,
    OAUTH_AUTHORIZE_URL_CODEX: `${auth.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CODEX: `${auth.url}/oauth/token`,
    OAUTH_DEVICE_URL_CODEX: `${auth.url}/api/accounts/deviceauth/usercode`,
    OAUTH_DEVICE_TOKEN_URL_CODEX: `${auth.url}/api/accounts/deviceauth/token`,
    OAUTH_DEVICE_VERIFY_URL_CODEX: `${auth.url}/codex/device`,
  });
  admin = await startAdminUnderTest({
    name: 'admin-logins',
    configYaml: `remote-management:\n  secret-key: ${SECRET}\n`,
  });
  ({ db, app, events } = admin);
});

afterAll(async () => {
  await admin?.close();
  await auth.close();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

interface Call {
  status: number;
  body: Record<string, unknown>;
  text: string;
  headers: Record<string, unknown>;
}

async function call(method: 'GET' | 'POST', url: string, body?: unknown, withKey = true): Promise<Call> {
  const response = await app.inject({
    method,
    url,
    headers: {
      ...(withKey ? { authorization: `Bearer ${SECRET}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    payload: body === undefined ? undefined : JSON.stringify(body),
    remoteAddress: '127.0.0.1',
  });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = response.json();
  } catch {
    parsed = {};
  }
  return { status: response.statusCode, body: parsed, text: response.body, headers: response.headers };
}

const mgmt = (method: 'GET' | 'POST', path: string, body?: unknown) => call(method, `/v0/management${path}`, body);

/** auth-url, then what the browser does with it: the redirect back (Location). */
async function startAndAuthorize(route: string): Promise<{ state: string; url: string; location: string }> {
  const started = await mgmt('GET', `/${route}-auth-url`);
  expect(started.status).toBe(200);
  const { state, url } = started.body as { state: string; url: string };
  const { location } = await auth.authorize(url);
  expect(location).toBeDefined();
  return { state, url, location: location! };
}

describe('management login routes', () => {
  it('need the management key', async () => {
    expect((await call('GET', '/v0/management/anthropic-auth-url', undefined, false)).status).toBe(401);
    expect((await call('POST', '/v0/management/oauth-callback', { state: 'x', code: 'y' }, false)).status).toBe(401);
    expect((await call('GET', '/v0/management/get-auth-status?state=x', undefined, false)).status).toBe(401);
  });

  it('answer 501 for a device login a family does not have', async () => {
    for (const route of ['anthropic', 'iflow', 'gemini-cli', 'antigravity']) {
      const res = await mgmt('GET', `/${route}-auth-url?flow=device`);
      expect(res.status).toBe(501);
      expect(res.body).toEqual({ status: 'error', error: `${route} has no device login` });
    }
  });
});

describe('Claude login', () => {
  it('auth-url -> pasted redirect URL -> stored credential, broadcast, downloadable; the state is then spent', async () => {
    auth.account = {
      email: 'claude-login@example.com',
      accountId: 'acc-claude-1',
      organization: { uuid: 'org-9', name: 'Nine' },
    };
    const { state, url, location } = await startAndAuthorize('anthropic');
    const authorize = new URL(url);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe('http://localhost:54545/callback');
    expect(authorize.searchParams.get('state')).toBe(state);
    expect(await mgmt('GET', `/get-auth-status?state=${state}`)).toMatchObject({
      status: 200,
      body: { status: 'wait' },
    });

    const since = events.length;
    const done = await mgmt('POST', '/oauth-callback', { provider: 'anthropic', redirect_url: location });
    expect(done).toMatchObject({
      status: 200,
      body: { status: 'ok', auth_index: 'claude-claude-login@example.com.json' },
    });
    expect(await mgmt('GET', `/get-auth-status?state=${state}`)).toMatchObject({
      body: { status: 'ok', auth_index: 'claude-claude-login@example.com.json' },
    });

    const row = await db.prisma.credential.findUniqueOrThrow({ where: { id: 'claude-claude-login@example.com.json' } });
    expect(row).toMatchObject({
      provider: 'claude',
      kind: 'oauth',
      account: 'claude-login@example.com',
      source: 'management',
    });
    expect(row.secretEnc).not.toContain('sk-ant-oat01');
    const secret = JSON.parse(db.box.decrypt(row.secretEnc)) as Record<string, string>;
    expect(auth.verifyAccessToken(secret.accessToken)?.email).toBe('claude-login@example.com');
    expect(secret).toMatchObject({ accountUuid: 'acc-claude-1', organizationUuid: 'org-9', organizationName: 'Nine' });

    await waitForEvent(
      since,
      (e) =>
        e.pattern === Events.configChanged && JSON.stringify(e.data).includes('claude-claude-login@example.com.json'),
    );

    const download = await mgmt('GET', '/auth-files/download?name=claude-claude-login@example.com.json');
    expect(download.status).toBe(200);
    expect(JSON.parse(download.text)).toMatchObject({
      type: 'claude',
      email: 'claude-login@example.com',
      access_token: secret.accessToken,
      refresh_token: secret.refreshToken,
    });

    // The same redirect again: the state was used.
    expect(await mgmt('POST', '/oauth-callback', { provider: 'anthropic', redirect_url: location })).toEqual(
      expect.objectContaining({
        status: 409,
        body: { status: 'error', error: 'state already used: this login was already completed' },
      }),
    );
  });

  it("accepts Claude's code#state without a separate state, and a second login of the account updates the same credential", async () => {
    const { location } = await startAndAuthorize('anthropic');
    const back = new URL(location);
    const res = await mgmt('POST', '/oauth-callback', {
      provider: 'claude',
      code: `${back.searchParams.get('code')}#${back.searchParams.get('state')}`,
    });
    expect(res.body).toEqual({ status: 'ok', auth_index: 'claude-claude-login@example.com.json' });
    expect(await db.prisma.credential.count({ where: { account: 'claude-login@example.com' } })).toBe(1);
    expect(
      (await db.prisma.credential.findUniqueOrThrow({ where: { id: 'claude-claude-login@example.com.json' } })).version,
    ).toBeGreaterThan(1);
  });

  it('the browser callback (no management key) finishes the login and shows a page to close', async () => {
    auth.account = { email: 'browser@example.com', accountId: 'acc-browser' };
    const { state, location } = await startAndAuthorize('anthropic');
    const page = await call('GET', `/anthropic/callback${new URL(location).search}`, undefined, false);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain('You can close this window.');
    expect(await mgmt('GET', `/get-auth-status?state=${state}`)).toMatchObject({
      body: { status: 'ok', auth_index: 'claude-browser@example.com.json' },
    });
    const again = await call('GET', `/anthropic/callback${new URL(location).search}`, undefined, false);
    expect(again.status).toBe(409);
    expect(again.text).toContain('Authentication failed');
  });
});

describe('refused states', () => {
  it('forged: unknown state', async () => {
    const res = await mgmt('POST', '/oauth-callback', {
      provider: 'anthropic',
      code: 'stolen-code',
      state: 'forged-state-0123456789',
    });
    expect(res).toMatchObject({
      status: 404,
      body: { status: 'error', error: 'unknown or expired state: no login was started with it here' },
    });
    expect((await mgmt('GET', '/get-auth-status?state=forged-state-0123456789')).body).toEqual({
      status: 'error',
      error: 'unknown or expired state',
    });
    const page = await call('GET', '/anthropic/callback?code=stolen&state=forged-state-0123456789', undefined, false);
    expect(page.status).toBe(404);
    expect(page.text).toContain('unknown or expired state');
    const unknownRoute = await call('GET', '/nobody/callback?code=c&state=forged-state-0123456789', undefined, false);
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.text).toContain('No login answers at /nobody/callback.');
  });

  it('expired: older than 5 minutes', async () => {
    const { state, location } = await startAndAuthorize('anthropic');
    await db.raw.query(`UPDATE oauth_sessions SET expires_at = now() - interval '1 second' WHERE state = $1`, [state]);
    const res = await mgmt('POST', '/oauth-callback', { provider: 'anthropic', redirect_url: location });
    expect(res).toMatchObject({
      status: 410,
      body: { status: 'error', error: 'login expired: a login must finish within 5 minutes; start a new one' },
    });
    expect((await mgmt('GET', `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'error',
      error: 'login expired: it was not finished in time; start a new one',
    });
  });

  it('malformed states, missing fields and a provider that does not own the state', async () => {
    expect(await mgmt('POST', '/oauth-callback', { provider: 'anthropic', code: 'c', state: '../etc' })).toMatchObject({
      status: 400,
      body: { error: 'invalid state' },
    });
    expect(await mgmt('POST', '/oauth-callback', { provider: 'anthropic', code: 'c' })).toMatchObject({
      status: 400,
      body: { error: 'state is required' },
    });
    expect(await mgmt('GET', '/get-auth-status?state=a/b')).toMatchObject({
      status: 400,
      body: { error: 'invalid state' },
    });
    const { state, location } = await startAndAuthorize('anthropic');
    expect(await mgmt('POST', '/oauth-callback', { provider: 'anthropic', state })).toMatchObject({
      status: 400,
      body: { error: 'code or error is required' },
    });
    expect(await mgmt('POST', '/oauth-callback', { provider: 'codex', redirect_url: location })).toMatchObject({
      status: 400,
      body: { error: 'provider does not match state' },
    });
    expect(await mgmt('POST', '/oauth-callback', { provider: 'nope', redirect_url: location })).toMatchObject({
      status: 400,
      body: { error: 'unsupported provider' },
    });
    // The code's own #state must be this login's.
    const code = new URL(location).searchParams.get('code');
    expect(
      await mgmt('POST', '/oauth-callback', { provider: 'claude', code: `${code}#other-state`, state }),
    ).toMatchObject({ status: 400 });
    // Still usable after the refusals above.
    expect((await mgmt('POST', '/oauth-callback', { provider: 'anthropic', redirect_url: location })).status).toBe(200);
  });

  it('a denied login ends the session with the provider error', async () => {
    auth.denyNext = true;
    const { state, location } = await startAndAuthorize('codex');
    expect(new URL(location).searchParams.get('error')).toBe('access_denied');
    const res = await mgmt('POST', '/oauth-callback', { provider: 'codex', redirect_url: location });
    expect(res).toMatchObject({
      status: 400,
      body: { status: 'error', error: 'the provider refused the login: access_denied' },
    });
    expect((await mgmt('GET', `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'error',
      error: 'the provider refused the login: access_denied',
    });
  });

  it('a tampered PKCE verifier fails the exchange with the token endpoint error', async () => {
    const { state, location } = await startAndAuthorize('codex');
    const { rows } = await db.raw.query<{ secret_enc: string }>(
      'SELECT secret_enc FROM oauth_sessions WHERE state = $1',
      [state],
    );
    const secret = JSON.parse(db.box.decrypt(rows[0].secret_enc)) as Record<string, string>;
    await db.raw.query('UPDATE oauth_sessions SET secret_enc = $2 WHERE state = $1', [
      state,
      db.box.encrypt(JSON.stringify({ ...secret, verifier: 'x'.repeat(64) })),
    ]);
    const res = await mgmt('POST', '/oauth-callback', { provider: 'codex', redirect_url: location });
    expect(res).toMatchObject({ status: 502, body: { status: 'error' } });
    expect(res.body.error).toContain(
      'codex token endpoint answered 400 invalid_grant: code_verifier does not match the code_challenge',
    );
    expect((await mgmt('GET', `/get-auth-status?state=${state}`)).body).toMatchObject({ status: 'error' });
  });
});

describe('Codex login', () => {
  it('{provider, code, state} stores the ChatGPT account from the id_token', async () => {
    auth.account = { email: 'codex-login@example.com', accountId: 'chatgpt-acc-42', plan: 'plus' };
    const { state, location } = await startAndAuthorize('codex');
    const res = await mgmt('POST', '/oauth-callback', {
      provider: 'codex',
      code: new URL(location).searchParams.get('code'),
      state,
    });
    expect(res.status).toBe(200);
    const id = res.body.auth_index as string;
    expect(id).toMatch(/^codex-[0-9a-f]{8}-codex-login@example\.com-plus\.json$/);
    const row = await db.prisma.credential.findUniqueOrThrow({ where: { id } });
    expect(JSON.parse(db.box.decrypt(row.secretEnc))).toMatchObject({
      accountId: 'chatgpt-acc-42',
      email: 'codex-login@example.com',
    });
  });

  it('device flow: auth-url?flow=device gives the code; get-auth-status polls until it was entered', async () => {
    auth.account = { email: 'codex-device@example.com', accountId: 'chatgpt-dev-1' };
    const started = await mgmt('GET', '/codex-auth-url?flow=device');
    expect(started.body).toMatchObject({
      status: 'ok',
      url: `${auth.url}/codex/device`,
      flow: 'device',
      expires_in: 900,
    });
    const { state, user_code: userCode } = started.body as { state: string; user_code: string };
    expect((await mgmt('GET', `/get-auth-status?state=${state}`)).body).toEqual({ status: 'wait' });
    auth.approveDevice(userCode);
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 40 && status.status !== 'ok'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await mgmt('GET', `/get-auth-status?state=${state}`)).body;
    }
    expect(status).toMatchObject({ status: 'ok' });
    expect(String(status.auth_index)).toContain('codex-device@example.com');
    // A device state cannot be finished through the browser callback.
    expect((await mgmt('POST', '/oauth-callback', { provider: 'codex', code: 'x', state })).status).toBe(409);
  });
});

async function waitForEvent(
  since: number,
  match: (event: { pattern: string; data: unknown }) => boolean,
): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (events.slice(since).some(match)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no matching broadcast arrived');
}
