import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenFile } from '@cpa/config';
import { claudeOAuthClient, codexOAuthClient, MockAuthorizationServer } from '@cpa/testing';
import { CLAUDE_OAUTH_CLIENT_ID, CODEX_OAUTH_CLIENT_ID } from '../oauth/refreshers';
import { claudeLogin } from './claude.login';
import { codexDeviceLogin, codexFileName, codexLogin } from './codex.login';
import { LoginError, undiciLoginHttp, type LoginContext } from './login-flow';
import { createPkce, createState, parseRedirect } from './pkce';
import { findLoginFlow, LOGIN_FLOWS, LOGIN_ROUTES, loginFlowForRoute } from './registry';

const server = new MockAuthorizationServer({
  clients: [claudeOAuthClient(CLAUDE_OAUTH_CLIENT_ID), codexOAuthClient(CODEX_OAUTH_CLIENT_ID)],
  deviceIntervalSeconds: 1,
});
let env: NodeJS.ProcessEnv;
const ctx = (): LoginContext => ({ env, http: undiciLoginHttp, now: new Date('2026-01-01T00:00:00Z') });

beforeAll(async () => {
  await server.start();
  env = {
    OAUTH_AUTHORIZE_URL_CLAUDE: `${server.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CLAUDE: `${server.url}/v1/oauth/token`,
    OAUTH_AUTHORIZE_URL_CODEX: `${server.url}/oauth/authorize`,
    OAUTH_TOKEN_URL_CODEX: `${server.url}/oauth/token`,
    OAUTH_DEVICE_URL_CODEX: `${server.url}/api/accounts/deviceauth/usercode`,
    OAUTH_DEVICE_TOKEN_URL_CODEX: `${server.url}/api/accounts/deviceauth/token`,
    OAUTH_DEVICE_VERIFY_URL_CODEX: `${server.url}/codex/device`,
  };
});
afterAll(() => server.close());

describe('claude login', () => {
  it('builds the claude.ai authorize URL with PKCE S256 and the registered redirect', () => {
    const pkce = createPkce();
    const url = new URL(
      claudeLogin.authorizeUrl({ state: 'st', pkce, redirectUri: claudeLogin.redirectUri(), env: {} }),
    );
    expect(`${url.origin}${url.pathname}`).toBe('https://claude.ai/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      code: 'true',
      client_id: CLAUDE_OAUTH_CLIENT_ID,
      response_type: 'code',
      redirect_uri: 'http://localhost:54545/callback',
      scope: 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      state: 'st',
    });
  });

  it('exchanges the code and names the file after the account, as CLIProxyAPI does', async () => {
    server.account = {
      email: 'ada@example.com',
      accountId: 'acc-uuid-1',
      organization: { uuid: 'org-1', name: 'Ada Org' },
    };
    const pkce = createPkce();
    const state = createState();
    const redirectUri = claudeLogin.redirectUri(54545);
    const { location } = await server.authorize(claudeLogin.authorizeUrl({ state, pkce, redirectUri, env }));
    const back = parseRedirect(location!);
    expect(back.state).toBe(state);
    const result = await claudeLogin.exchange({ code: back.code!, state, verifier: pkce.verifier, redirectUri }, ctx());
    expect(result.fileName).toBe('claude-ada@example.com.json');
    expect(result.tokenFile).toMatchObject({
      type: 'claude',
      email: 'ada@example.com',
      account_uuid: 'acc-uuid-1',
      organization_uuid: 'org-1',
      organization_name: 'Ada Org',
      expired: '2026-01-01T01:00:00.000Z',
    });
    expect(String(result.tokenFile.access_token)).toContain('sk-ant-oat01-');
    expect(server.tokenRequests.at(-1)).toMatchObject({
      path: '/v1/oauth/token',
      fields: { grant_type: 'authorization_code', state, redirect_uri: redirectUri },
    });
    // The token-file codec reads what the login wrote: a login and an imported file are one credential.
    const [draft] = parseTokenFile(result.fileName, result.tokenFile);
    expect(draft).toMatchObject({ id: 'claude-ada@example.com.json', provider: 'claude', account: 'ada@example.com' });
  });

  it('fails with the endpoint error, never quoting the code or verifier', async () => {
    const pkce = createPkce();
    const state = createState();
    const redirectUri = claudeLogin.redirectUri();
    const { location } = await server.authorize(claudeLogin.authorizeUrl({ state, pkce, redirectUri, env }));
    const code = parseRedirect(location!).code!;
    const wrong = createPkce().verifier;
    const failure = await claudeLogin
      .exchange({ code, state, verifier: wrong, redirectUri }, ctx())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LoginError);
    expect((failure as Error).message).toContain('claude token endpoint answered 400 invalid_grant');
    expect((failure as Error).message).not.toContain(code);
    expect((failure as Error).message).not.toContain(wrong);
  });
});

describe('codex login', () => {
  it("adds Codex's parameters to the auth.openai.com authorize URL", () => {
    const pkce = createPkce();
    const url = new URL(codexLogin.authorizeUrl({ state: 'st', pkce, redirectUri: codexLogin.redirectUri(), env: {} }));
    expect(`${url.origin}${url.pathname}`).toBe('https://auth.openai.com/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CODEX_OAUTH_CLIENT_ID,
      redirect_uri: 'http://localhost:1455/auth/callback',
      scope: 'openid email profile offline_access',
      code_challenge_method: 'S256',
      prompt: 'login',
      id_token_add_organizations: 'true',
      codex_cli_simplified_flow: 'true',
    });
  });

  it('takes account id, e-mail and plan from the id_token', async () => {
    server.account = { email: 'bob@example.com', accountId: 'chatgpt-acct-7', plan: 'Pro' };
    const pkce = createPkce();
    const state = createState();
    const redirectUri = codexLogin.redirectUri();
    const { location } = await server.authorize(codexLogin.authorizeUrl({ state, pkce, redirectUri, env }));
    const result = await codexLogin.exchange(
      { code: parseRedirect(location!).code!, state, verifier: pkce.verifier, redirectUri },
      ctx(),
    );
    const hash = createHash('sha256').update('chatgpt-acct-7').digest('hex').slice(0, 8);
    expect(result.fileName).toBe(`codex-${hash}-bob@example.com-pro.json`);
    expect(result.tokenFile).toMatchObject({ type: 'codex', account_id: 'chatgpt-acct-7', email: 'bob@example.com' });
    expect(server.tokenRequests.at(-1)?.fields).toMatchObject({
      grant_type: 'authorization_code',
      client_id: CODEX_OAUTH_CLIENT_ID,
      redirect_uri: redirectUri,
    });
  });

  it('names files like CLIProxyAPI without account or plan', () => {
    expect(codexFileName('a@b.c')).toBe('codex-a@b.c.json');
    expect(codexFileName('a@b.c', 'team plus')).toBe('codex-a@b.c-team-plus.json');
  });

  it('device flow: pending until the code is entered, then the exchanged tokens', async () => {
    server.account = { email: 'dev@example.com', accountId: 'chatgpt-dev' };
    const started = await codexDeviceLogin.start(ctx());
    expect(started.verificationUrl).toBe(`${server.url}/codex/device`);
    expect(started.intervalSeconds).toBe(1);
    expect(await codexDeviceLogin.poll(started.pollData, ctx())).toEqual({ status: 'pending' });
    server.approveDevice(started.userCode);
    const done = await codexDeviceLogin.poll(started.pollData, ctx());
    expect(done.status).toBe('done');
    expect(done.status === 'done' && done.result.tokenFile).toMatchObject({
      type: 'codex',
      email: 'dev@example.com',
      account_id: 'chatgpt-dev',
    });
    expect(server.tokenRequests.at(-1)?.fields).toMatchObject({
      redirect_uri: 'https://auth.openai.com/deviceauth/callback',
    });
  });
});

describe('registry', () => {
  it('finds flows by name, alias and management route', () => {
    expect(findLoginFlow('anthropic')).toBe(claudeLogin);
    expect(findLoginFlow('Claude')).toBe(claudeLogin);
    expect(findLoginFlow('codex')).toBe(codexLogin);
    expect(findLoginFlow('codex-device')).toBe(codexDeviceLogin);
    expect(loginFlowForRoute('codex', true)).toBe(codexDeviceLogin);
    expect(loginFlowForRoute('anthropic', true)).toBeUndefined();
    expect(loginFlowForRoute('kimi')?.kind).toBe('device');
    expect(loginFlowForRoute('iflow', true)).toBeUndefined();
  });

  it('every flow serves one of the management routes', () => {
    for (const flow of LOGIN_FLOWS) expect(LOGIN_ROUTES).toContain(flow.route);
  });
});
