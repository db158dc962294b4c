/**
 * Executor recovery through the real stack: an OAuth credential whose token the upstream
 * refuses is refreshed by the refresh-worker and retried once with the new token; a
 * stream that opens with an overloaded error fails over to another credential before the
 * client sees a byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialRepository, PrismaService, SecretBox } from '@cpa/db';
import { waitFor } from '@cpa/testing';
import { MockTokenServer } from '@cpa/testing';
import { announceCatalogChange, CLIENT_KEY, useStack } from './stack-fixture';

const OAUTH_MODEL = 'claude-oauth-e2e';
const FAILOVER_MODEL = 'claude-failover-e2e';
const FAILOVER_KEYS = ['sk-ant-recovery-000000000000-a', 'sk-ant-recovery-000000000000-b'];
const INITIAL_TOKEN = 'sk-ant-oat-initial-e2e';
const REFRESH_TOKEN = 'sk-ant-ort-initial-e2e';
const REFRESHED_TOKEN = 'sk-ant-oat-refreshed-e2e';
const OVERLOADED = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };

let prisma: PrismaService;
let credentials: CredentialRepository;
let oauthId: string;
const tokens = new MockTokenServer();

// The token endpoint runs before the stack boots, as the services are told its URL.
beforeAll(async () => {
  await tokens.start();
  tokens.handler = () => ({
    status: 200,
    body: { access_token: REFRESHED_TOKEN, refresh_token: 'sk-ant-ort-rotated-e2e', expires_in: 28800 },
  });
});
afterAll(() => tokens.stop());

const { mock, stack, anthropic } = useStack({
  config: (upstream) => ({
    'claude-api-key': FAILOVER_KEYS.map((key) => ({
      'api-key': key,
      'base-url': upstream.url,
      models: [{ name: 'claude-sonnet-4-5', alias: FAILOVER_MODEL }],
    })),
  }),
  env: () => ({ OAUTH_TOKEN_URL_CLAUDE: `${tokens.url}/claude` }),
});

beforeAll(async () => {
  // config.yaml has no OAuth logins: store one the way a login would, then tell every service.
  prisma = new PrismaService(stack.databaseUrl);
  await prisma.$connect();
  credentials = new CredentialRepository(prisma, SecretBox.fromEnv());
  const login = await credentials.create({
    provider: 'claude',
    kind: 'oauth',
    label: 'claude login',
    source: 'e2e-login',
    baseUrl: mock.url,
    // Far from expiry: only the 401 can make the worker refresh it.
    expiresAt: new Date(Date.now() + 8 * 3_600_000),
    attributes: { models: [{ name: 'claude-sonnet-4-5', alias: OAUTH_MODEL }] },
    secret: { accessToken: INITIAL_TOKEN, refreshToken: REFRESH_TOKEN, tokenType: 'Bearer' },
  });
  oauthId = login.id;
  await announceCatalogChange(stack, [oauthId]);
  // Every service reloaded once a request on the new credential succeeds.
  await waitFor(async () => (await postMessages(OAUTH_MODEL, false, 'warm up')).status === 200, 20_000, 100);
});

afterAll(() => prisma?.$disconnect());

function postMessages(model: string, stream: boolean, content: string): Promise<Response> {
  return fetch(`${stack.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, max_tokens: 64, stream, messages: [{ role: 'user', content }] }),
  });
}

describe('refresh-on-401 for an OAuth credential', () => {
  it('refreshes the refused token and retries the same credential with the new one; the client sees 200', async () => {
    mock.setBehavior(INITIAL_TOKEN, { status: 401, failTimes: 1 });
    const message = await anthropic().messages.create({
      model: OAUTH_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'after a refresh' }],
    });

    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: after a refresh' });
    expect(mock.requests.map((r) => r.apiKey)).toEqual([INITIAL_TOKEN, REFRESHED_TOKEN]);
    expect(tokens.requests).toHaveLength(1);
    expect(tokens.requests[0]!.fields).toMatchObject({ grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN });
    expect(await credentials.getSecret(oauthId)).toMatchObject({ accessToken: REFRESHED_TOKEN });

    // The executors use the new token from now on, without another refresh.
    const stream = await postMessages(OAUTH_MODEL, true, 'streamed later');
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('message_stop');
    expect(mock.requests.at(-1)!.apiKey).toBe(REFRESHED_TOKEN);
    expect(tokens.requests).toHaveLength(1);
  });

  it('never loops: when no newer token can be had the client gets the 401', async () => {
    tokens.handler = () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'refresh token revoked' },
    });
    mock.setBehavior(REFRESHED_TOKEN, { status: 401 });
    const before = tokens.requests.length;

    const res = await postMessages(OAUTH_MODEL, false, 'refused for good');

    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(mock.requests.map((r) => r.apiKey)).toEqual([REFRESHED_TOKEN]);
    expect(tokens.requests.length - before).toBe(1);
  });
});

describe('a stream that opens with an error', () => {
  it('fails over to another credential before the client sees a byte', async () => {
    const [overloaded, healthy] = FAILOVER_KEYS as [string, string];
    mock.setBehavior(overloaded, {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: `event: error\ndata: ${JSON.stringify(OVERLOADED)}\n\n`,
    });
    // Whichever key the rotation starts with, every request is answered by the healthy key.
    for (let i = 0; i < 4 && !mock.countByKey()[overloaded]; i++) {
      const res = await postMessages(FAILOVER_MODEL, true, `stream ${i}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain('overloaded_error');
      expect(text).toContain('message_stop');
      expect(mock.requests.at(-1)!.apiKey).toBe(healthy);
    }
    expect(mock.countByKey()[overloaded]).toBe(1);
  });

  it('answers with a real error status when every credential opens with the error', async () => {
    for (const key of FAILOVER_KEYS) {
      mock.setBehavior(key, {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: `event: error\ndata: ${JSON.stringify(OVERLOADED)}\n\n`,
      });
    }
    const res = await postMessages(FAILOVER_MODEL, true, 'all overloaded');
    expect(res.status).toBe(529);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual(OVERLOADED);
  });
});
