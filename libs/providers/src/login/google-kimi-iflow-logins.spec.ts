import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenFile } from '@cpa/config';
import {
  googleOAuthClient,
  iflowOAuthClient,
  kimiOAuthClient,
  MockAuthorizationServer,
  startCodeAssistMock,
  type CodeAssistMock,
} from '@cpa/testing';
import {
  ANTIGRAVITY_OAUTH_CLIENT_ID,
  ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
  IFLOW_OAUTH_CLIENT_ID,
  IFLOW_OAUTH_CLIENT_SECRET,
  KIMI_OAUTH_CLIENT_ID,
} from '../oauth/refreshers';
import { antigravityLogin } from './antigravity.login';
import { ensureCompanionApi, geminiCliLogin } from './gemini-cli.login';
import { iflowLogin } from './iflow.login';
import { KIMI_MIN_POLL_SECONDS, kimiLogin } from './kimi.login';
import { LoginError, undiciLoginHttp, type LoginContext, type LoginResult, type RedirectLoginFlow } from './login-flow';
import { createPkce, createState, parseRedirect } from './pkce';
import { callbackRouteOf, findLoginFlow, LOGIN_FLOWS, LOGIN_ROUTES, loginFlowForRoute } from './registry';

const auth = new MockAuthorizationServer({
  clients: [
    googleOAuthClient(GEMINI_CLI_OAUTH_CLIENT_ID, GEMINI_CLI_OAUTH_CLIENT_SECRET, [
      'http://localhost:8085/oauth2callback',
    ]),
    googleOAuthClient(ANTIGRAVITY_OAUTH_CLIENT_ID, ANTIGRAVITY_OAUTH_CLIENT_SECRET, [
      'http://localhost:51121/oauth-callback',
    ]),
    kimiOAuthClient(KIMI_OAUTH_CLIENT_ID),
    iflowOAuthClient(IFLOW_OAUTH_CLIENT_ID, IFLOW_OAUTH_CLIENT_SECRET),
  ],
  deviceIntervalSeconds: 1,
});
let codeAssist: CodeAssistMock;
let env: NodeJS.ProcessEnv;
/** What the flows waited for between Code Assist polls (no real waiting in these tests). */
let sleeps: number[] = [];
const NOW = new Date('2026-01-01T00:00:00Z');
const ctx = (): LoginContext => ({ env, http: undiciLoginHttp, now: NOW, sleep: async (ms) => void sleeps.push(ms) });
const projectFor = (email: string) => `free-${email.split('@')[0]}`;

beforeAll(async () => {
  await auth.start();
  codeAssist = await startCodeAssistMock({
    verifyToken: (token) => auth.tokenState(token),
    projects: ['byo-project'],
    onboarding: { accountOf: (token) => auth.verifyAccessToken(token)?.email, projectFor },
  });
  env = {
    OAUTH_AUTHORIZE_URL_GEMINI: `${auth.url}/o/oauth2/auth`,
    OAUTH_AUTHORIZE_URL_ANTIGRAVITY: `${auth.url}/o/oauth2/v2/auth`,
    OAUTH_TOKEN_URL_GEMINI: `${auth.url}/token`,
    OAUTH_USER_INFO_URL_GEMINI: `${auth.url}/oauth2/v1/userinfo?alt=json`,
    OAUTH_USER_INFO_URL_ANTIGRAVITY: `${auth.url}/oauth2/v2/userinfo?alt=json`,
    GEMINI_CLI_BASE_URL: codeAssist.url,
    ANTIGRAVITY_BASE_URL: codeAssist.url,
    GOOGLE_SERVICE_USAGE_URL: codeAssist.url,
    OAUTH_DEVICE_URL_KIMI: `${auth.url}/api/oauth/device_authorization`,
    OAUTH_TOKEN_URL_KIMI: `${auth.url}/api/oauth/token`,
    OAUTH_AUTHORIZE_URL_IFLOW: `${auth.url}/oauth`,
    OAUTH_TOKEN_URL_IFLOW: `${auth.url}/oauth/token`,
    IFLOW_USER_INFO_URL: `${auth.url}/api/oauth/getUserInfo`,
  };
});
afterAll(async () => {
  await codeAssist?.close();
  await auth.close();
});

/** Authorize at the mock as the operator's browser would, then the flow's exchange. */
async function logIn(flow: RedirectLoginFlow): Promise<LoginResult> {
  const state = createState();
  const pkce = createPkce();
  const redirectUri = flow.redirectUri();
  const { location, error } = await auth.authorize(flow.authorizeUrl({ state, pkce, redirectUri, env }));
  if (!location) throw new Error(`authorize refused: ${error}`);
  const back = parseRedirect(location);
  expect(back.state).toBe(state);
  sleeps = [];
  return flow.exchange({ code: back.code!, state, verifier: pkce.verifier, redirectUri }, ctx());
}

const query = (url: string) => Object.fromEntries(new URL(url).searchParams);

describe('gemini-cli login', () => {
  it('builds Google authorize URL as Go oauth2 does for the Gemini CLI client (offline, consent, no PKCE)', () => {
    const url = geminiCliLogin.authorizeUrl({
      state: 'st',
      pkce: createPkce(),
      redirectUri: geminiCliLogin.redirectUri(),
      env: {},
    });
    expect(url.split('?')[0]).toBe('https://accounts.google.com/o/oauth2/auth');
    expect(query(url)).toEqual({
      access_type: 'offline',
      client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
      prompt: 'consent',
      redirect_uri: 'http://localhost:8085/oauth2callback',
      response_type: 'code',
      scope:
        'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
      state: 'st',
    });
    expect(callbackRouteOf(geminiCliLogin)).toBe('google');
  });

  it('a new account: onboarding on the default (free) tier is polled until its project is ready, then stored as a gemini file', async () => {
    auth.account = { email: 'gem-new@example.com', accountId: 'g-1' };
    const result = await logIn(geminiCliLogin);
    expect(result.fileName).toBe('gemini-gem-new@example.com-free-gem-new.json');
    expect(result.tokenFile).toMatchObject({
      type: 'gemini',
      project_id: 'free-gem-new',
      email: 'gem-new@example.com',
      auto: false,
      checked: true,
      token: {
        token_type: 'Bearer',
        client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
        client_secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
        token_uri: `${auth.url}/token`,
        expiry: '2026-01-01T01:00:00.000Z',
      },
    });
    const token = result.tokenFile.token as { access_token: string; refresh_token: string };
    expect(auth.tokenState(token.access_token)).toBe('valid');
    expect(token.refresh_token).toMatch(/^refresh-/);
    // Two polls answered "not done", the third provisioned the project; then the project's onboarding confirmed it.
    const calls = codeAssist.onboardRequests.filter((r) => r.account === 'gem-new@example.com');
    expect(calls.map((c) => c.done)).toEqual([false, false, true, true]);
    expect(calls[0].request.body).toEqual({
      tierId: 'free-tier',
      metadata: { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' },
    });
    expect(calls[3].request.body).toMatchObject({ tierId: 'free-tier', cloudaicompanionProject: 'free-gem-new' });
    expect(calls[0].request.headers['user-agent']).toMatch(/^GeminiCLI\/\d+\.\d+\.\d+\/unknown \(/);
    expect(sleeps).toEqual([2000, 2000]);
    // The exchange sent the client secret in the form, and no PKCE verifier (the authorize URL had no challenge).
    expect(auth.tokenRequests.at(-1)).toMatchObject({
      path: '/token',
      fields: {
        grant_type: 'authorization_code',
        client_secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
        redirect_uri: 'http://localhost:8085/oauth2callback',
      },
    });
    expect(auth.tokenRequests.at(-1)!.fields).not.toHaveProperty('code_verifier');
    const [draft] = parseTokenFile(result.fileName, result.tokenFile);
    expect(draft).toMatchObject({
      provider: 'gemini-cli',
      account: 'gem-new@example.com',
      secret: { projectId: 'free-gem-new', accessToken: token.access_token },
    });
  });

  it('an onboarded account: loadCodeAssist names the project and one onboardUser confirms it', async () => {
    auth.account = { email: 'gem-new@example.com', accountId: 'g-1' };
    const before = codeAssist.onboardRequests.length;
    const result = await logIn(geminiCliLogin);
    expect(result.tokenFile.project_id).toBe('free-gem-new');
    expect(codeAssist.onboardRequests.slice(before).map((c) => c.request.body)).toEqual([
      {
        tierId: 'free-tier',
        metadata: { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' },
        cloudaicompanionProject: 'free-gem-new',
      },
    ]);
    expect(sleeps).toEqual([]);
  });

  it('enables the Cloud AI Companion API of a project that does not have it', async () => {
    auth.account = { email: 'gem-byo@example.com', accountId: 'g-2' };
    const { location } = await auth.authorize(
      geminiCliLogin.authorizeUrl({
        state: 's-byo',
        pkce: createPkce(),
        redirectUri: geminiCliLogin.redirectUri(),
        env,
      }),
    );
    const tokens = (await (
      await fetch(`${auth.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: parseRedirect(location!).code!,
          redirect_uri: geminiCliLogin.redirectUri(),
          client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
          client_secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
        }),
      })
    ).json()) as { access_token: string };
    expect(codeAssist.enabledServices.has('byo-project')).toBe(false);
    await ensureCompanionApi('byo-project', tokens.access_token, ctx());
    expect(codeAssist.enabledServices.has('byo-project')).toBe(true);
    const refused = await ensureCompanionApi('someone-elses', tokens.access_token, ctx()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LoginError);
    expect((refused as Error).message).toBe(
      'Cloud AI API not enabled for project someone-elses (enabling it answered 403)',
    );
  });

  it('a refused code exchange fails with the endpoint error, never quoting the code', async () => {
    const failure = await geminiCliLogin
      .exchange(
        {
          code: 'code-forged-0123456789',
          state: 's',
          verifier: createPkce().verifier,
          redirectUri: geminiCliLogin.redirectUri(),
        },
        ctx(),
      )
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LoginError);
    expect((failure as Error).message).toContain('gemini-cli token endpoint answered 400 invalid_grant');
    expect((failure as Error).message).not.toContain('code-forged-0123456789');
  });
});

describe('antigravity login', () => {
  it("builds Google's v2 authorize URL with Antigravity's client, scopes and callback port", () => {
    const url = antigravityLogin.authorizeUrl({
      state: 'st',
      pkce: createPkce(),
      redirectUri: antigravityLogin.redirectUri(),
      env: {},
    });
    expect(url.split('?')[0]).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(query(url)).toEqual({
      access_type: 'offline',
      client_id: ANTIGRAVITY_OAUTH_CLIENT_ID,
      prompt: 'consent',
      redirect_uri: 'http://localhost:51121/oauth-callback',
      response_type: 'code',
      scope:
        'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/cclog https://www.googleapis.com/auth/experimentsandconfigs',
      state: 'st',
    });
    expect(callbackRouteOf(antigravityLogin)).toBe('antigravity');
  });

  it('looks the project up, onboarding a new account (polled until done), and stores an antigravity file', async () => {
    auth.account = { email: 'ag-new@example.com', accountId: 'a-1' };
    const result = await logIn(antigravityLogin);
    expect(result.fileName).toBe('antigravity-ag-new@example.com.json');
    expect(result.tokenFile).toMatchObject({
      type: 'antigravity',
      email: 'ag-new@example.com',
      project_id: 'free-ag-new',
      expires_in: 3600,
      timestamp: NOW.getTime(),
      expired: '2026-01-01T01:00:00Z',
    });
    const calls = codeAssist.onboardRequests.filter((r) => r.account === 'ag-new@example.com');
    expect(calls.map((c) => c.done)).toEqual([false, false, true]);
    expect(calls[0].request.body).toEqual({
      tier_id: 'free-tier',
      metadata: {
        ide_type: 'ANTIGRAVITY',
        ide_version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        ide_name: 'antigravity',
      },
    });
    expect(calls[0].request.headers).toMatchObject({
      'user-agent': expect.stringMatching(/^antigravity\/\S+ darwin\/arm64 google-api-nodejs-client\//),
      'x-goog-api-client': 'gl-node/22.21.1',
    });
    expect(sleeps).toEqual([2000, 2000]);
    const [draft] = parseTokenFile(result.fileName, result.tokenFile);
    expect(draft).toMatchObject({
      provider: 'antigravity',
      account: 'ag-new@example.com',
      secret: { projectId: 'free-ag-new' },
    });
  });

  it('refuses the login when onboarding does not finish within its 5 polls', async () => {
    const slow = await startCodeAssistMock({
      verifyToken: (token) => auth.tokenState(token),
      projects: [],
      onboarding: { accountOf: (token) => auth.verifyAccessToken(token)?.email, projectFor, pollsBeforeDone: 10 },
    });
    const saved = env.ANTIGRAVITY_BASE_URL;
    env.ANTIGRAVITY_BASE_URL = slow.url;
    try {
      auth.account = { email: 'ag-slow@example.com', accountId: 'a-2' };
      const failure = await logIn(antigravityLogin).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(LoginError);
      expect((failure as Error).message).toBe('antigravity onboarding did not complete after 5 attempts');
      expect(slow.onboardRequests).toHaveLength(5);
    } finally {
      env.ANTIGRAVITY_BASE_URL = saved;
      await slow.close();
    }
  });
});

describe('kimi login', () => {
  it('starts a device flow with the device headers, polls (pending, slow_down) and stores the device id', async () => {
    auth.account = { email: 'kimi-user@example.com', accountId: 'k-1' };
    const started = await kimiLogin.start(ctx());
    expect(started.verificationUrl).toBe(`${auth.url}/device?user_code=${started.userCode}`);
    // The mock asks for 1 s; CLIProxyAPI never polls Kimi faster than every 5 s.
    expect(started.intervalSeconds).toBe(KIMI_MIN_POLL_SECONDS);
    const deviceId = started.pollData.deviceId as string;
    expect(deviceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await kimiLogin.poll(started.pollData, ctx())).toEqual({ status: 'pending' });
    // Polled again at once: slow_down, and the interval grows by 5 s.
    expect(await kimiLogin.poll(started.pollData, ctx())).toEqual({
      status: 'pending',
      intervalSeconds: KIMI_MIN_POLL_SECONDS + 5,
    });
    // Another device may not collect this code.
    await expect(
      kimiLogin.poll({ ...started.pollData, deviceId: '00000000-0000-4000-8000-000000000000' }, ctx()),
    ).rejects.toThrow('kimi OAuth error: invalid_grant');
  });

  it('finishes once the code was entered', async () => {
    const started = await kimiLogin.start(ctx());
    auth.approveDevice(started.userCode);
    const poll = await kimiLogin.poll(started.pollData, ctx());
    if (poll.status !== 'done') throw new Error('expected the login to finish');
    const { fileName, tokenFile } = poll.result;
    expect(fileName).toBe(`kimi-${NOW.getTime()}.json`);
    expect(tokenFile).toMatchObject({
      type: 'kimi',
      token_type: 'Bearer',
      scope: 'kimi-code',
      device_id: started.pollData.deviceId,
      expired: '2026-01-01T01:00:00Z',
      timestamp: NOW.getTime(),
    });
    expect(auth.deviceIdOf(tokenFile.access_token as string)).toBe(started.pollData.deviceId);
    const [draft] = parseTokenFile(fileName, tokenFile);
    expect(draft).toMatchObject({ provider: 'kimi', secret: { deviceId: started.pollData.deviceId } });
  });

  it('a denied code ends the login', async () => {
    const started = await kimiLogin.start(ctx());
    auth.denyDevice(started.userCode);
    await expect(kimiLogin.poll(started.pollData, ctx())).rejects.toThrow('kimi access denied by user');
  });
});

describe('iflow login', () => {
  it("builds iFlow's phone-login authorize URL (redirect, no PKCE)", () => {
    const url = iflowLogin.authorizeUrl({
      state: 'st',
      pkce: createPkce(),
      redirectUri: iflowLogin.redirectUri(),
      env: {},
    });
    expect(url.split('?')[0]).toBe('https://iflow.cn/oauth');
    expect(query(url)).toEqual({
      loginMethod: 'phone',
      type: 'phone',
      redirect: 'http://localhost:11451/oauth2callback',
      state: 'st',
      client_id: IFLOW_OAUTH_CLIENT_ID,
    });
  });

  it('exchanges the code with Basic client auth, then reads the API key from the user info', async () => {
    auth.account = { email: '', phone: '13800000042', accountId: 'i-1', apiKey: 'sk-iflow-unit-1' };
    const result = await logIn(iflowLogin);
    expect(result.fileName).toBe('iflow-13800000042.json');
    expect(result.tokenFile).toMatchObject({
      type: 'iflow',
      api_key: 'sk-iflow-unit-1',
      email: '13800000042',
      token_type: 'bearer',
      scope: 'read',
      last_refresh: '2026-01-01T00:00:00Z',
      expired: '2026-01-01T01:00:00Z',
    });
    expect(auth.tokenRequests.at(-1)).toMatchObject({
      path: '/oauth/token',
      fields: { grant_type: 'authorization_code', client_id: IFLOW_OAUTH_CLIENT_ID },
    });
    const [draft] = parseTokenFile(result.fileName, result.tokenFile);
    expect(draft).toMatchObject({ provider: 'iflow', account: '13800000042', secret: { apiKey: 'sk-iflow-unit-1' } });
  });

  it('refuses a login whose user info hands out no API key', async () => {
    auth.account = { email: 'nokey@example.com', accountId: 'i-2' };
    await expect(logIn(iflowLogin)).rejects.toThrow('iflow user info was not successful or carries no API key');
  });
});

describe('registry', () => {
  it('every CLIProxyAPI login route has a flow now', () => {
    for (const route of LOGIN_ROUTES) expect(loginFlowForRoute(route)).toBeDefined();
    expect(LOGIN_FLOWS.map((flow) => flow.name)).toEqual(
      expect.arrayContaining(['gemini-cli', 'antigravity', 'kimi', 'iflow']),
    );
    expect(findLoginFlow('gemini')).toBe(geminiCliLogin);
    expect(loginFlowForRoute('kimi', true)).toBe(kimiLogin);
  });
});
