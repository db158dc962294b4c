/**
 * The Gemini CLI, Antigravity, Kimi and iFlow logins end to end, on the built stack with two
 * gateway pods: a mock authorization server speaking each provider's dialect (Google's
 * authorize and token endpoints with the client secret, Kimi's device flow with its device
 * headers, iFlow's phone-login page and Basic-authenticated token endpoint, both user infos),
 * a Code Assist mock whose onboarding needs two polls before a new account's project exists,
 * and the Kimi and iFlow chat mocks that refuse anything their services refuse. Each family
 * goes from auth-url (or the device start) to a request the official SDKs send through the
 * gateway; every login is then refreshed by the refresh worker and keeps serving; and a Kimi
 * login runs through `npm run login` as a real process.
 */
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANTIGRAVITY_OAUTH_CLIENT_ID,
  ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
  IFLOW_OAUTH_CLIENT_ID,
  IFLOW_OAUTH_CLIENT_SECRET,
  KIMI_OAUTH_CLIENT_ID,
} from '@cpa/providers';
import {
  googleOAuthClient,
  iflowOAuthClient,
  kimiOAuthClient,
  MockAuthorizationServer,
  startCodeAssistMock,
  startIFlowMock,
  startKimiMock,
  waitFor,
  type ChatSubscriptionMock,
  type CodeAssistMock,
} from '@cpa/testing';
import { downloadAuthFile, management, onlyEnabled, printedAuthIndex, runLoginCommand, signIn } from './login-helpers';
import { CLIENT_KEY, useStack } from './stack-fixture';

const GEMINI_MODEL = 'gemini-2.5-flash';
const ANTIGRAVITY_MODEL = 'gemini-3-flash';
/** Listed with CLIProxyAPI's prefix; Kimi's API knows it as `k2.5`. */
const KIMI_MODEL = 'kimi-k2.5';
const IFLOW_MODEL = 'qwen3-coder-plus';
const IFLOW_KEY = 'sk-iflow-login-e2e-0123456789';

// Four-minute tokens: within every family's refresh lead, so each login is refreshed as soon as it is stored.
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
  accessTokenLifetimeSeconds: 240,
  deviceIntervalSeconds: 1,
});
/** The free-tier project onboarding provisions for an account. */
const projectFor = (email: string) => `free-${email.split('@')[0]}`;
const iflowKeys: string[] = [];
let codeAssist: CodeAssistMock;
let kimi: ChatSubscriptionMock;
let iflow: ChatSubscriptionMock;
let oauthEnv: Record<string, string>;
let genai: typeof GenAI;

beforeAll(async () => {
  genai = await import('@google/genai');
  await auth.start();
  const verifyToken = (token: string) => auth.tokenState(token);
  codeAssist = await startCodeAssistMock({
    verifyToken,
    projects: [],
    onboarding: { accountOf: (token) => auth.verifyAccessToken(token)?.email, projectFor },
  });
  kimi = await startKimiMock({ verifyToken, deviceIdOf: (token) => auth.deviceIdOf(token) });
  iflow = await startIFlowMock({ apiKeys: iflowKeys });
  oauthEnv = {
    OAUTH_AUTHORIZE_URL_GEMINI: `${auth.url}/o/oauth2/auth`,
    OAUTH_AUTHORIZE_URL_ANTIGRAVITY: `${auth.url}/o/oauth2/v2/auth`,
    OAUTH_TOKEN_URL_GEMINI: `${auth.url}/token`,
    OAUTH_USER_INFO_URL_GEMINI: `${auth.url}/oauth2/v1/userinfo?alt=json`,
    OAUTH_USER_INFO_URL_ANTIGRAVITY: `${auth.url}/oauth2/v2/userinfo?alt=json`,
    GOOGLE_SERVICE_USAGE_URL: codeAssist.url,
    OAUTH_DEVICE_URL_KIMI: `${auth.url}/api/oauth/device_authorization`,
    OAUTH_TOKEN_URL_KIMI: `${auth.url}/api/oauth/token`,
    OAUTH_AUTHORIZE_URL_IFLOW: `${auth.url}/oauth`,
    OAUTH_TOKEN_URL_IFLOW: `${auth.url}/oauth/token`,
    IFLOW_USER_INFO_URL: `${auth.url}/api/oauth/getUserInfo`,
  };
});
afterAll(async () => {
  await Promise.all([codeAssist?.close(), kimi?.close(), iflow?.close()]);
  await auth.close();
});

const { stack, openai } = useStack({
  config: () => ({}),
  families: ['gemini-cli', 'antigravity', 'kimi', 'iflow'],
  env: () => ({
    GATEWAY_REPLICAS: '2',
    GEMINI_CLI_BASE_URL: codeAssist.url,
    ANTIGRAVITY_BASE_URL: codeAssist.url,
    KIMI_BASE_URL: kimi.baseUrl,
    IFLOW_BASE_URL: iflow.baseUrl,
    ...oauthEnv,
  }),
});

/** One request as an upstream mock received it. */
type GoogleRequest = ChatSubscriptionMock['requests'][number];

const gemini = (gateway: string) => new genai.GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: gateway } });
const bearer = (r: GoogleRequest) => String(r.headers.authorization ?? '').replace(/^Bearer /i, '');
const bodyOf = (r: GoogleRequest) => r.body as Record<string, unknown>;

/** A Gemini SDK request through `gateway` for `model`, answered by Code Assist with a live token of `email` in its project. */
async function codeAssistServes(
  gateway: string,
  model: string,
  email: string,
  client: 'gemini-cli' | 'antigravity',
): Promise<void> {
  const served = await waitFor(
    async () => {
      const before = codeAssist.requests.length;
      const answer = await gemini(gateway)
        .models.generateContent({ model, contents: `hello ${email}` })
        .catch(() => undefined);
      const upstream = codeAssist.requests
        .slice(before)
        .find((r) => r.client === client && auth.verifyAccessToken(bearer(r))?.email === email);
      return answer && upstream ? { answer, upstream } : undefined;
    },
    20_000,
    200,
  );
  expect(served.answer.text).toBe(`echo: hello ${email}`);
  expect(bodyOf(served.upstream)).toMatchObject({ model, project: projectFor(email) });
}

/** An OpenAI SDK chat through the gateway, answered by `mock` with what `check` wants to see upstream. */
async function chatServes(
  mock: ChatSubscriptionMock,
  model: string,
  text: string,
  check: (upstream: GoogleRequest) => boolean,
): Promise<void> {
  const served = await waitFor(
    async () => {
      const before = mock.requests.length;
      const answer = await openai()
        .chat.completions.create({ model, messages: [{ role: 'user', content: text }] })
        .catch(() => undefined);
      return answer && mock.requests.slice(before).some(check) ? answer : undefined;
    },
    20_000,
    200,
  );
  expect(served.choices[0].message.content).toBe(`echo: ${text}`);
}

const kimiServesDevice = (deviceId: string, text: string) =>
  chatServes(
    kimi,
    KIMI_MODEL,
    text,
    (r) =>
      r.headers['x-msh-device-id'] === deviceId &&
      auth.deviceIdOf(bearer(r)) === deviceId &&
      auth.tokenState(bearer(r)) === 'valid',
  );
const iflowServes = (text: string) => chatServes(iflow, IFLOW_MODEL, text, (r) => bearer(r) === IFLOW_KEY);

describe('logins through the management API', () => {
  it('Gemini CLI: the Google redirect reaches /google/callback on the other pod; onboarding provisions the project; the Gemini SDK is served', async () => {
    auth.account = { email: 'gem-e2e@example.com', accountId: 'google-gem-e2e' };
    const [first, second] = stack.urls;
    const started = await management(first, '/gemini-cli-auth-url');
    expect(started.body).toMatchObject({ status: 'ok' });
    const { url, state } = started.body as { url: string; state: string };
    expect(new URL(url).searchParams.get('redirect_uri')).toBe('http://localhost:8085/oauth2callback');
    const back = await signIn(auth, url);
    expect(`${back.origin}${back.pathname}`).toBe('http://localhost:8085/oauth2callback');

    const page = await fetch(`${second}/google/callback${back.search}`);
    expect(await page.text()).toContain('You can close this window.');
    expect(page.status).toBe(200);
    const authIndex = 'gemini-gem-e2e@example.com-free-gem-e2e.json';
    expect((await management(first, `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'ok',
      auth_index: authIndex,
    });
    // Two polls found the operation running; the third had the project, which the project's own onboarding then confirmed.
    expect(codeAssist.onboardRequests.filter((r) => r.account === 'gem-e2e@example.com').map((r) => r.done)).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(await downloadAuthFile(stack, authIndex)).toMatchObject({
      type: 'gemini',
      project_id: 'free-gem-e2e',
      email: 'gem-e2e@example.com',
      checked: true,
    });

    await codeAssistServes(first, GEMINI_MODEL, 'gem-e2e@example.com', 'gemini-cli');
    await codeAssistServes(second, GEMINI_MODEL, 'gem-e2e@example.com', 'gemini-cli');
  });

  it('Antigravity: the redirect URL pasted into oauth-callback on pod 2; the project comes from onboarding; the Gemini SDK is served', async () => {
    auth.account = { email: 'ag-e2e@example.com', accountId: 'google-ag-e2e' };
    const started = await management(stack.urls[0], '/antigravity-auth-url');
    const { url, state } = started.body as { url: string; state: string };
    const back = await signIn(auth, url);
    expect(`${back.origin}${back.pathname}`).toBe('http://localhost:51121/oauth-callback');
    const done = await management(stack.urls[1], '/oauth-callback', {
      method: 'POST',
      body: JSON.stringify({ provider: 'antigravity', redirect_url: back.toString() }),
    });
    expect(done).toEqual({ status: 200, body: { status: 'ok', auth_index: 'antigravity-ag-e2e@example.com.json' } });
    expect((await management(stack.urls[0], `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'ok',
      auth_index: 'antigravity-ag-e2e@example.com.json',
    });
    expect(codeAssist.onboardRequests.filter((r) => r.account === 'ag-e2e@example.com').map((r) => r.done)).toEqual([
      false,
      false,
      true,
    ]);
    await codeAssistServes(stack.urls[1], ANTIGRAVITY_MODEL, 'ag-e2e@example.com', 'antigravity');
  });

  it('Kimi: the device code is shown, get-auth-status polls until it was entered, then the OpenAI SDK is served with its device id', async () => {
    auth.account = { email: 'kimi-e2e@example.com', accountId: 'kimi-e2e' };
    const started = await management(stack.urls[1], '/kimi-auth-url');
    expect(started.body).toMatchObject({ status: 'ok', flow: 'device' });
    const { state, user_code: userCode, url } = started.body as { state: string; user_code: string; url: string };
    expect(url).toBe(`${auth.url}/device?user_code=${userCode}`);
    expect((await management(stack.urls[0], `/get-auth-status?state=${state}`)).body).toEqual({ status: 'wait' });
    auth.approveDevice(userCode);
    const status = await waitFor(
      async () => {
        const { body } = await management(stack.urls[0], `/get-auth-status?state=${state}`);
        return body.status === 'wait' ? undefined : body;
      },
      30_000,
      500,
    );
    expect(status).toMatchObject({ status: 'ok', auth_index: expect.stringMatching(/^kimi-\d+\.json$/) });
    const file = await downloadAuthFile(stack, status.auth_index as string);
    expect(file).toMatchObject({ type: 'kimi', device_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    await kimiServesDevice(file.device_id as string, 'hello kimi');
  });

  it('iFlow: the phone-login redirect reaches /iflow/callback; the API key from the user info serves the OpenAI SDK', async () => {
    auth.account = { email: 'iflow-e2e@example.com', accountId: 'iflow-e2e', apiKey: IFLOW_KEY };
    iflowKeys.push(IFLOW_KEY);
    const started = await management(stack.urls[0], '/iflow-auth-url');
    const { url, state } = started.body as { url: string; state: string };
    expect(Object.fromEntries(new URL(url).searchParams)).toMatchObject({
      loginMethod: 'phone',
      redirect: 'http://localhost:11451/oauth2callback',
      client_id: IFLOW_OAUTH_CLIENT_ID,
    });
    const back = await signIn(auth, url);
    const page = await fetch(`${stack.urls[1]}/iflow/callback${back.search}`);
    expect(page.status).toBe(200);
    expect((await management(stack.urls[0], `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'ok',
      auth_index: 'iflow-iflow-e2e@example.com.json',
    });
    expect(await downloadAuthFile(stack, 'iflow-iflow-e2e@example.com.json')).toMatchObject({
      type: 'iflow',
      api_key: IFLOW_KEY,
      email: 'iflow-e2e@example.com',
    });
    await iflowServes('hello iflow');
  });

  it('the refresh worker took every login up: rotating refresh grants of each client, and each family still serves', async () => {
    for (const clientId of [
      GEMINI_CLI_OAUTH_CLIENT_ID,
      ANTIGRAVITY_OAUTH_CLIENT_ID,
      KIMI_OAUTH_CLIENT_ID,
      IFLOW_OAUTH_CLIENT_ID,
    ]) {
      await waitFor(
        () =>
          auth.tokenRequests.some((r) => r.fields.grant_type === 'refresh_token' && r.fields.client_id === clientId),
        30_000,
        200,
      );
    }
    await codeAssistServes(stack.url, GEMINI_MODEL, 'gem-e2e@example.com', 'gemini-cli');
    await codeAssistServes(stack.url, ANTIGRAVITY_MODEL, 'ag-e2e@example.com', 'antigravity');
    await iflowServes('after the refresh');
  });

  it('no token, code or API key reached any service log', () => {
    const logs = stack.logs.join('\n');
    expect(logs).not.toMatch(/ya29\.login-|kimi-at-|iflow-at-|refresh-[A-Za-z0-9_-]{20}|code-[A-Za-z0-9_-]{20}/);
    expect(logs).not.toContain(IFLOW_KEY);
  });
});

describe('npm run login', () => {
  it('kimi: prints the verification URL and code, polls until the code was entered, stores the login, which serves at once', async () => {
    auth.account = { email: 'kimi-cli@example.com', accountId: 'kimi-cli' };
    const run = runLoginCommand(stack, ['kimi'], oauthEnv);
    const [, url, code] = await waitFor(
      () => /^Open (\S+) and enter the code (\S+)$/m.exec(run.output()) ?? undefined,
      60_000,
      50,
    );
    expect(url).toBe(`${auth.url}/device?user_code=${code}`);
    auth.approveDevice(code);
    expect(await run.exit).toBe(0);
    const authIndex = printedAuthIndex(run.output());
    expect(authIndex).toMatch(/^kimi-\d+\.json$/);
    expect(run.output()).not.toMatch(/kimi-at-|refresh-/);
    await onlyEnabled(stack, authIndex!, 'kimi');
    const file = await downloadAuthFile(stack, authIndex!);
    await kimiServesDevice(file.device_id as string, 'hello from the command');
  });

  /** A redirect login through the command: the operator opens the printed URL and pastes where the browser was sent. */
  async function pastedLogin(family: string): Promise<string> {
    // The command finds the Code Assist project itself, so it is told where Code Assist is, as the stack is.
    const run = runLoginCommand(stack, [family, '--no-browser'], {
      ...oauthEnv,
      GEMINI_CLI_BASE_URL: codeAssist.url,
      ANTIGRAVITY_BASE_URL: codeAssist.url,
    });
    const url = await waitFor(() => /sign in:\n\n(\S+)/.exec(run.output())?.[1], 60_000, 50);
    const back = await signIn(auth, url);
    run.child.stdin.write(`${back.toString()}\n`);
    expect(await run.exit, run.output()).toBe(0);
    expect(run.output()).not.toMatch(/ya29\.login-|iflow-at-|code-[A-Za-z0-9_-]{20}/);
    return printedAuthIndex(run.output())!;
  }

  it('gemini-cli: the pasted redirect URL, onboarding, and the login serves at once', async () => {
    auth.account = { email: 'gem-cli@example.com', accountId: 'google-gem-cli' };
    expect(await pastedLogin('gemini-cli')).toBe('gemini-gem-cli@example.com-free-gem-cli.json');
    await codeAssistServes(stack.url, GEMINI_MODEL, 'gem-cli@example.com', 'gemini-cli');
  });

  it('antigravity: the pasted redirect URL, and the login serves at once', async () => {
    auth.account = { email: 'ag-cli@example.com', accountId: 'google-ag-cli' };
    expect(await pastedLogin('antigravity')).toBe('antigravity-ag-cli@example.com.json');
    await codeAssistServes(stack.url, ANTIGRAVITY_MODEL, 'ag-cli@example.com', 'antigravity');
  });

  it('iflow: the pasted redirect URL, the API key from the user info, and the login serves at once', async () => {
    const key = 'sk-iflow-cli-e2e-0123456789';
    auth.account = { email: 'iflow-cli@example.com', accountId: 'iflow-cli', apiKey: key };
    iflowKeys.push(key);
    const authIndex = await pastedLogin('iflow');
    expect(authIndex).toBe('iflow-iflow-cli@example.com.json');
    // Served before any management write: the command itself published the login to every pod.
    await chatServes(iflow, IFLOW_MODEL, 'hello from the iflow command', (r) => bearer(r) === key);
  });
});
