/**
 * Logging accounts in, end to end: a mock authorization server that checks PKCE, state,
 * redirect URI and client id, and issues short-lived tokens with rotating refresh tokens; the
 * built stack with two gateway pods; each family from auth-url to a request the official SDKs
 * send through the gateway, answered by the dialect mocks (which refuse anything a real
 * subscription upstream would). The provider's redirect reaches a different gateway pod than
 * the operator used; forged, reused and expired states are refused; and the same logins run
 * through `npm run login` as a real process (pasted redirect URL, local callback port).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAUDE_OAUTH_CLIENT_ID, CODEX_OAUTH_CLIENT_ID } from '@cpa/providers';
import {
  CHATGPT_CODEX_PATH,
  claudeOAuthClient,
  codexOAuthClient,
  freePort,
  MockAuthorizationServer,
  waitFor,
  type RecordedRequest,
} from '@cpa/testing';
import { CLIENT_KEY, MANAGEMENT_SECRET, useStack } from './stack-fixture';

const ROOT = resolve(__dirname, '..');
const CLAUDE_MODEL = 'claude-opus-4-5-20251101';
const CODEX_MODEL = 'gpt-5';
// Short-lived tokens: every login is due for a refresh at once (Claude's lead is 4 h, Codex's 5 days).
const auth = new MockAuthorizationServer({
  clients: [claudeOAuthClient(CLAUDE_OAUTH_CLIENT_ID), codexOAuthClient(CODEX_OAUTH_CLIENT_ID)],
  accessTokenLifetimeSeconds: 600,
  deviceIntervalSeconds: 1,
});
let oauthEnv: Record<string, string>;

beforeAll(async () => {
  await auth.start();
  oauthEnv = {
    OAUTH_AUTHORIZE_URL_CLAUDE: `${auth.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CLAUDE: `${auth.url}/v1/oauth/token`,
    OAUTH_AUTHORIZE_URL_CODEX: `${auth.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CODEX: `${auth.url}/oauth/token`,
    OAUTH_DEVICE_URL_CODEX: `${auth.url}/api/accounts/deviceauth/usercode`,
    OAUTH_DEVICE_TOKEN_URL_CODEX: `${auth.url}/api/accounts/deviceauth/token`,
    OAUTH_DEVICE_VERIFY_URL_CODEX: `${auth.url}/codex/device`,
  };
});
afterAll(() => auth.close());

const { mock, stack, anthropic, openai } = useStack({
  config: () => ({}),
  families: ['claude', 'codex'],
  env: () => ({
    GATEWAY_REPLICAS: '2',
    CLAUDE_BASE_URL: mock.url,
    CODEX_BASE_URL: `${mock.url}/backend-api/codex`,
    ...oauthEnv,
  }),
});

/** A management call on a chosen gateway pod. */
async function management(
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v0/management${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${MANAGEMENT_SECRET}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What the operator's browser does with the authorize URL: the Location the provider sends it back to. */
async function signIn(url: string): Promise<URL> {
  const { location, error } = await auth.authorize(url);
  if (!location) throw new Error(`authorize refused: ${error}`);
  return new URL(location);
}

/** Leaves only this credential of its provider enabled, so requests must be served by it. */
async function onlyEnabled(authIndex: string, provider: string): Promise<void> {
  const { body } = await management(stack.url, '/auth-files');
  for (const file of body.files as { auth_index: string; provider?: string; type?: string }[]) {
    if ((file.provider ?? file.type) !== provider) continue;
    const res = await management(stack.url, '/auth-files/status', {
      method: 'PATCH',
      body: JSON.stringify({ auth_index: file.auth_index, disabled: file.auth_index !== authIndex }),
    });
    expect(res.status).toBe(200);
  }
}

const claudeHits = () => mock.requests.filter((r) => r.path === '/v1/messages');
const codexHits = () => mock.requests.filter((r) => r.path === CHATGPT_CODEX_PATH);
const bearer = (r: RecordedRequest) => String(r.headers.authorization ?? '').replace(/^Bearer /i, '');

/** A Claude request through `gateway` succeeds and reached upstream with a live token of `email`'s login. */
async function claudeServes(gateway: string, email: string): Promise<void> {
  const client = anthropic();
  await waitFor(
    async () => {
      const before = claudeHits().length;
      const res = await fetch(`${gateway}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: CLAUDE_MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'ready?' }] }),
      });
      return (
        res.status === 200 &&
        claudeHits()
          .slice(before)
          .some((r) => auth.verifyAccessToken(bearer(r))?.email === email)
      );
    },
    20_000,
    200,
  );
  if (gateway === stack.url) {
    const message = await client.messages.create({
      model: CLAUDE_MODEL,
      max_tokens: 32,
      messages: [{ role: 'user', content: `hello from ${email}` }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect(auth.verifyAccessToken(bearer(claudeHits().at(-1)!))?.email).toBe(email);
  }
}

/** A Codex request through the gateway (OpenAI SDK) succeeds with `accountId`'s login. */
async function codexServes(accountId: string): Promise<void> {
  await waitFor(async () => (await openai().models.list()).data.some((m) => m.id === CODEX_MODEL), 20_000, 200);
  const response = await waitFor(
    async () => {
      const before = codexHits().length;
      const answer = await openai().chat.completions.create({
        model: CODEX_MODEL,
        messages: [{ role: 'user', content: `hello ${accountId}` }],
      });
      const served = codexHits()
        .slice(before)
        .some(
          (r) =>
            r.headers['chatgpt-account-id'] === accountId && auth.verifyAccessToken(bearer(r))?.accountId === accountId,
        );
      return served ? answer : undefined;
    },
    20_000,
    200,
  );
  expect(response.choices[0].message.content).toContain(`hello ${accountId}`);
}

describe('management API logins through the gateway', () => {
  it('Claude: auth-url on pod 1, the browser redirect arrives at pod 2, the login serves at once through both pods and is refreshed', async () => {
    auth.account = { email: 'claude-e2e@example.com', accountId: '5b0e8d6c-1f2a-4c3d-8e4f-000000000001' };
    const [first, second] = stack.urls;
    const started = await management(first, '/anthropic-auth-url');
    expect(started.body).toMatchObject({ status: 'ok' });
    const { url, state } = started.body as { url: string; state: string };
    const back = await signIn(url);
    expect(`${back.origin}${back.pathname}`).toBe('http://localhost:54545/callback');

    // CLIProxyAPI's callback forwarder sends the browser to the main port: here another pod.
    const page = await fetch(`${second}/anthropic/callback${back.search}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('You can close this window.');

    const status = await management(first, `/get-auth-status?state=${state}`);
    expect(status.body).toEqual({ status: 'ok', auth_index: 'claude-claude-e2e@example.com.json' });
    await claudeServes(first, 'claude-e2e@example.com');
    await claudeServes(second, 'claude-e2e@example.com');

    // The refresh worker picked the new login up: a rotating refresh grant for it reached the token endpoint.
    await waitFor(
      () =>
        auth.tokenRequests.some(
          (r) => r.fields.grant_type === 'refresh_token' && r.fields.client_id === CLAUDE_OAUTH_CLIENT_ID,
        ),
      20_000,
      100,
    );
    await claudeServes(first, 'claude-e2e@example.com');

    // The same browser redirect again, on either pod: the state was used.
    const reused = await fetch(`${first}/anthropic/callback${back.search}`);
    expect(reused.status).toBe(409);
    expect(await reused.text()).toContain('state already used');
  });

  it('Codex: the redirect URL pasted into oauth-callback on pod 2, then the ChatGPT backend serves it', async () => {
    auth.account = { email: 'codex-e2e@example.com', accountId: 'chatgpt-e2e-1', plan: 'pro' };
    const started = await management(stack.urls[0], '/codex-auth-url');
    const { url, state } = started.body as { url: string; state: string };
    const authorize = new URL(url).searchParams;
    expect(Object.fromEntries(authorize)).toMatchObject({
      prompt: 'login',
      id_token_add_organizations: 'true',
      codex_cli_simplified_flow: 'true',
      redirect_uri: 'http://localhost:1455/auth/callback',
    });
    const back = await signIn(url);
    const done = await management(stack.urls[1], '/oauth-callback', {
      method: 'POST',
      body: JSON.stringify({ provider: 'codex', redirect_url: back.toString() }),
    });
    expect(done.status).toBe(200);
    const authIndex = done.body.auth_index as string;
    expect(authIndex).toMatch(/^codex-[0-9a-f]{8}-codex-e2e@example\.com-pro\.json$/);
    expect((await management(stack.urls[0], `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'ok',
      auth_index: authIndex,
    });
    await codexServes('chatgpt-e2e-1');

    // The login is downloadable as the token file CLIProxyAPI would have written.
    const file = await fetch(`${stack.url}/v0/management/auth-files/download?name=${encodeURIComponent(authIndex)}`, {
      headers: { authorization: `Bearer ${MANAGEMENT_SECRET}` },
    });
    expect(await file.json()).toMatchObject({
      type: 'codex',
      email: 'codex-e2e@example.com',
      account_id: 'chatgpt-e2e-1',
    });
  });

  it('Codex device flow: the code is shown, get-auth-status polls until it was entered, then it serves', async () => {
    auth.account = { email: 'codex-device-e2e@example.com', accountId: 'chatgpt-device-e2e' };
    const started = await management(stack.urls[1], '/codex-auth-url?flow=device');
    expect(started.body).toMatchObject({ status: 'ok', flow: 'device', url: `${auth.url}/codex/device` });
    const { state, user_code: userCode } = started.body as { state: string; user_code: string };
    expect((await management(stack.urls[0], `/get-auth-status?state=${state}`)).body).toEqual({ status: 'wait' });
    auth.approveDevice(userCode);
    const status = await waitFor(
      async () => {
        const { body } = await management(stack.urls[0], `/get-auth-status?state=${state}`);
        return body.status === 'ok' ? body : undefined;
      },
      20_000,
      300,
    );
    await onlyEnabled(status.auth_index as string, 'codex');
    await codexServes('chatgpt-device-e2e');
  });

  it('refuses forged, reused and expired states with clear errors', async () => {
    const forged = await fetch(`${stack.urls[1]}/codex/callback?code=stolen&state=forged-state-abcdefghijklmnop`);
    expect(forged.status).toBe(404);
    expect(await forged.text()).toContain('unknown or expired state');

    const started = await management(stack.url, '/codex-auth-url');
    const { url, state } = started.body as { url: string; state: string };
    const back = await signIn(url);
    const { Client } = await import('pg');
    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE oauth_sessions SET expires_at = now() - interval '1 second' WHERE state = $1`, [state]);
    } finally {
      await db.end();
    }
    const expired = await management(stack.urls[1], '/oauth-callback', {
      method: 'POST',
      body: JSON.stringify({ provider: 'codex', redirect_url: back.toString() }),
    });
    expect(expired).toEqual({
      status: 410,
      body: { status: 'error', error: 'login expired: a login must finish within 5 minutes; start a new one' },
    });

    const fresh = await management(stack.url, '/anthropic-auth-url');
    const freshBack = await signIn((fresh.body as { url: string }).url);
    expect(
      (
        await management(stack.urls[1], '/oauth-callback', {
          method: 'POST',
          body: JSON.stringify({ provider: 'anthropic', redirect_url: freshBack.toString() }),
        })
      ).status,
    ).toBe(200);
    const reused = await management(stack.urls[0], '/oauth-callback', {
      method: 'POST',
      body: JSON.stringify({ provider: 'anthropic', redirect_url: freshBack.toString() }),
    });
    expect(reused).toEqual({
      status: 409,
      body: { status: 'error', error: 'state already used: this login was already completed' },
    });
  });

  it('no token, code or verifier reached any service log', () => {
    const logs = stack.logs.join('\n');
    expect(logs).not.toMatch(/sk-ant-oat01-|refresh-[A-Za-z0-9_-]{20}|code-[A-Za-z0-9_-]{20}/);
  });
});

interface LoginRun {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<number | null>;
}

/** `npm run login -- <args>` as an operator runs it, against the stack's database and Redis. */
function runLogin(args: string[], env: Record<string, string> = {}): LoginRun {
  const build = process.env.E2E_BUILD ? [] : ['--no-build'];
  const child = spawn('npm', ['run', '--silent', 'login', '--', ...build, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TRANSPORT_KEY_PREFIX: stack.keyPrefix,
      LOG_LEVEL: 'warn',
      ...oauthEnv,
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, output: () => output, exit };
}

const printedUrl = (output: string) => /^(https?:\/\/\S+\/oauth\/authorize\S*)$/m.exec(output)?.[1];
const printedAuthIndex = (output: string) => /^auth_index: (\S+)$/m.exec(output)?.[1];

describe('npm run login', () => {
  it('claude: prints the URL, takes the pasted redirect URL on stdin, stores the login, which serves at once', async () => {
    auth.account = { email: 'cli-paste@example.com', accountId: '5b0e8d6c-1f2a-4c3d-8e4f-000000000002' };
    // The browser is not sent to the listener: the operator copies the address it was redirected to.
    const run = runLogin(['claude', '--no-browser'], { LOGIN_CALLBACK_PORT: String(await freePort()) });
    const url = await waitFor(() => printedUrl(run.output()), 60_000, 50);
    const back = await signIn(url);
    run.child.stdin.write(`${back.toString()}\n`);
    expect(await run.exit).toBe(0);
    const authIndex = printedAuthIndex(run.output());
    expect(authIndex).toBe('claude-cli-paste@example.com.json');
    expect(run.output()).not.toContain('sk-ant-oat01');
    await onlyEnabled(authIndex!, 'claude');
    await claudeServes(stack.url, 'cli-paste@example.com');
  });

  it('codex: the provider redirect reaches the local callback port', async () => {
    auth.account = { email: 'cli-port@example.com', accountId: 'chatgpt-cli-port' };
    const port = await freePort();
    const run = runLogin(['codex'], { LOGIN_CALLBACK_PORT: String(port) });
    const url = await waitFor(() => printedUrl(run.output()), 60_000, 50);
    expect(new URL(url).searchParams.get('redirect_uri')).toBe(`http://localhost:${port}/auth/callback`);
    await waitFor(() => run.output().includes('Waiting for the redirect'), 10_000, 50);
    const back = await signIn(url);
    // The browser follows the redirect to the command's listener (localhost may resolve to ::1 or 127.0.0.1).
    const page = await fetch(`http://127.0.0.1:${port}${back.pathname}${back.search}`);
    expect(page.status).toBe(200);
    expect(await run.exit).toBe(0);
    const authIndex = printedAuthIndex(run.output());
    expect(authIndex).toMatch(/^codex-[0-9a-f]{8}-cli-port@example\.com-plus\.json$/);
    await onlyEnabled(authIndex!, 'codex');
    await codexServes('chatgpt-cli-port');
  });

  it('a device login prints the code and polls until it was entered', async () => {
    auth.account = { email: 'cli-device@example.com', accountId: 'chatgpt-cli-device' };
    const run = runLogin(['codex', '--device']);
    const code = await waitFor(() => /enter the code (\S+)/.exec(run.output())?.[1], 60_000, 50);
    auth.approveDevice(code);
    expect(await run.exit).toBe(0);
    expect(printedAuthIndex(run.output())).toContain('cli-device@example.com');
  });

  it('a refused login exits 1 with the reason', async () => {
    const run = runLogin(['claude'], { LOGIN_CALLBACK_PORT: String(await freePort()) });
    const url = await waitFor(() => printedUrl(run.output()), 60_000, 50);
    auth.denyNext = true;
    const back = await signIn(url);
    run.child.stdin.write(`${back.toString()}\n`);
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain('login failed: the provider refused the login: access_denied');
  });
});
