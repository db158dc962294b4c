/**
 * The Kimi and iFlow families through the whole stack: token files in CLIProxyAPI's format are
 * imported through the management API, and the official SDKs talk to the gateway, which
 * routes to a Kimi device-flow login and to iFlow logins. The mock upstreams enforce what the
 * services enforce (Kimi: a live access token and Kimi CLI's device headers with the login's
 * device id; iFlow: one of the accounts' API keys and a fresh, correctly signed session), the
 * Kimi token endpoint issues 4-second tokens and spends refresh tokens on use, and iFlow's
 * user info hands out a new API key per access token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService } from '@cpa/db';
import { IFLOW_OAUTH_CLIENT_ID, IFLOW_OAUTH_CLIENT_SECRET, KIMI_OAUTH_CLIENT_ID } from '@cpa/providers';
import { startIFlowMock, startKimiMock, TOKEN_FILE_SAMPLES, waitFor, type ChatSubscriptionMock } from '@cpa/testing';
import { MockTokenServer, RotatingTokens, type MockTokenReply, type RecordedTokenRequest } from '@cpa/testing';
import { useStack } from './stack-fixture';

const TOKEN_LIFETIME_S = 4;
const KIMI_FILE = 'kimi-e2e.json';
const IFLOW_FILE = 'iflow-e2e.json';
const IFLOW_STALE_FILE = 'iflow-stale-key.json';
const KIMI_SAMPLE = TOKEN_FILE_SAMPLES['kimi-1893456000000.json'];
const IFLOW_SAMPLE = TOKEN_FILE_SAMPLES['iflow-iflow-user@example.com.json'];
const DEVICE_ID = KIMI_SAMPLE.device_id;
/** Listed names; Kimi's API knows the first as `k2.5`. */
const KIMI_MODEL = 'kimi-k2.5';
const IFLOW_MODEL = 'qwen3-coder-plus';
/** The stale-key iFlow login carries a prefix (force-model-prefix: only this name reaches it). */
const IFLOW_STALE_MODEL = `rekey/${IFLOW_MODEL}`;

/** Kimi access tokens the token endpoint issued (the file's included), with their expiry. */
const kimiTokens = new Map<string, number>();
const kimiRotation = new RotatingTokens({ expiresIn: TOKEN_LIFETIME_S }).seed('kimi-e2e-refresh');
const iflowRotation = new RotatingTokens({ expiresIn: 7 * 86_400 }).seed('iflow-stale-refresh');
/** iFlow API keys the service accepts; the user info adds one per access token it sees. */
const iflowKeys: string[] = [IFLOW_SAMPLE.api_key];
const iflowKeyOf = (accessToken: string) => `sk-iflow-for-${accessToken}`;
const iflowAccessTokens = new Set<string>();
const tokens = new MockTokenServer();
let kimi: ChatSubscriptionMock;
let iflow: ChatSubscriptionMock;
let prisma: PrismaService;

const refused = (status: number, error: string): MockTokenReply => ({ status, body: { error } });

async function kimiTokenEndpoint(req: RecordedTokenRequest, index: number): Promise<MockTokenReply> {
  if (req.fields.client_id !== KIMI_OAUTH_CLIENT_ID) return refused(401, 'invalid_client');
  if (req.headers['x-msh-device-id'] !== DEVICE_ID || req.headers['x-msh-platform'] !== 'kimi_cli')
    return refused(400, 'invalid_request');
  const reply = await kimiRotation.handler(req, index);
  const body = reply.body as { access_token?: string; expires_in?: number };
  if (reply.status === 200 && body.access_token)
    kimiTokens.set(body.access_token, Date.now() + body.expires_in! * 1000);
  return reply;
}

async function iflowEndpoints(req: RecordedTokenRequest, index: number): Promise<MockTokenReply> {
  if (req.path.startsWith('/iflow/userinfo')) {
    const token = new URL(req.path, tokens.url).searchParams.get('accessToken') ?? '';
    if (req.method !== 'GET' || !iflowAccessTokens.has(token))
      return { status: 200, body: { success: false, message: 'invalid token' } };
    iflowKeys.push(iflowKeyOf(token));
    return {
      status: 200,
      body: { success: true, data: { apiKey: iflowKeyOf(token), email: '', phone: '13800000000' } },
    };
  }
  const basic = `Basic ${Buffer.from(`${IFLOW_OAUTH_CLIENT_ID}:${IFLOW_OAUTH_CLIENT_SECRET}`).toString('base64')}`;
  if (req.headers.authorization !== basic || req.fields.client_secret !== IFLOW_OAUTH_CLIENT_SECRET)
    return refused(401, 'invalid_client');
  const reply = await iflowRotation.handler(req, index);
  const body = reply.body as { access_token?: string };
  if (reply.status === 200 && body.access_token) iflowAccessTokens.add(`iflow-${body.access_token}`);
  // Distinct from Kimi's: the rotation classes number their tokens the same way.
  return reply.status === 200
    ? { status: 200, body: { ...(reply.body as object), access_token: `iflow-${body.access_token}` } }
    : reply;
}

beforeAll(async () => {
  await tokens.start();
  tokens.handler = (req, index) =>
    req.path.startsWith('/kimi/') ? kimiTokenEndpoint(req, index) : iflowEndpoints(req, index);
  kimi = await startKimiMock({
    verifyToken: (token) => {
      const expiresAt = kimiTokens.get(token);
      if (expiresAt === undefined) return 'unknown';
      return Date.now() < expiresAt ? 'valid' : 'expired';
    },
    deviceIdOf: () => DEVICE_ID,
  });
  iflow = await startIFlowMock({ apiKeys: iflowKeys });
});
afterAll(async () => {
  await kimi?.close();
  await iflow?.close();
  await tokens.stop();
});

const { stack, openai, anthropic, management } = useStack({
  families: ['kimi', 'iflow'],
  config: () => ({ 'force-model-prefix': true }),
  env: () => ({
    KIMI_BASE_URL: kimi.baseUrl,
    IFLOW_BASE_URL: iflow.baseUrl,
    OAUTH_TOKEN_URL_KIMI: `${tokens.url}/kimi/token`,
    OAUTH_TOKEN_URL_IFLOW: `${tokens.url}/iflow/token`,
    IFLOW_USER_INFO_URL: `${tokens.url}/iflow/userinfo`,
  }),
});

async function upload(name: string, file: object): Promise<void> {
  const res = await management(`/auth-files?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    body: JSON.stringify(file),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  prisma = new PrismaService(stack.databaseUrl);
  await prisma.$connect();
  // The Kimi login's token is about to expire: the first rotation happens during the tests.
  const kimiExpiry = Date.now() + TOKEN_LIFETIME_S * 1000;
  kimiTokens.set('kimi-e2e-initial', kimiExpiry);
  await upload(KIMI_FILE, {
    ...KIMI_SAMPLE,
    access_token: 'kimi-e2e-initial',
    refresh_token: 'kimi-e2e-refresh',
    expired: new Date(kimiExpiry).toISOString(),
  });
  await upload(IFLOW_FILE, IFLOW_SAMPLE);
  // A key iFlow no longer accepts: the first request is refused, a refresh fetches the new one.
  await upload(IFLOW_STALE_FILE, {
    ...IFLOW_SAMPLE,
    api_key: 'sk-iflow-revoked',
    refresh_token: 'iflow-stale-refresh',
    prefix: 'rekey',
    email: 'stale@example.com',
  });
  await waitFor(
    async () => {
      const ids = (await openai().models.list()).data.map((m) => m.id);
      return ids.includes(KIMI_MODEL) && ids.includes(IFLOW_MODEL) && ids.includes(IFLOW_STALE_MODEL);
    },
    20_000,
    100,
  );
});
afterAll(() => prisma?.$disconnect());

const header = (req: { headers: Record<string, string | string[] | undefined> }, name: string) =>
  req.headers[name] as string | undefined;
const lastKimi = () => kimi.requests.at(-1)!;
const lastIFlow = () => iflow.requests.at(-1)!;

async function chatStream(model: string, content: string): Promise<string> {
  const stream = await openai().chat.completions.create({ model, stream: true, messages: [{ role: 'user', content }] });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

async function messagesStream(model: string, content: string): Promise<string> {
  const stream = anthropic().messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content }] });
  let text = '';
  stream.on('text', (delta) => (text += delta));
  const final = await stream.finalMessage();
  expect(final.stop_reason).toBe('end_turn');
  return text;
}

describe('Kimi login imported from a token file', () => {
  it('OpenAI SDK, non-streaming and streaming: Kimi CLI headers, the login device id, Kimi model id', async () => {
    const completion = await openai().chat.completions.create({
      model: KIMI_MODEL,
      messages: [{ role: 'user', content: 'hello kimi' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: hello kimi');
    const served = lastKimi();
    expect(served.path).toBe('/coding/v1/chat/completions');
    expect((served.body as { model: string }).model).toBe('k2.5');
    expect(header(served, 'x-msh-device-id')).toBe(DEVICE_ID);
    expect(header(served, 'user-agent')).toBe('KimiCLI/1.10.6');

    expect(await chatStream(KIMI_MODEL, 'stream kimi')).toBe('echo: stream kimi');
    expect(lastKimi().body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(header(lastKimi(), 'accept')).toBe('text/event-stream');
  });

  it('Anthropic SDK, non-streaming and streaming, translated to Kimi chat completions', async () => {
    const message = await anthropic().messages.create({
      model: KIMI_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'claude client to kimi' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: claude client to kimi' });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(await messagesStream(KIMI_MODEL, 'claude stream to kimi')).toBe('echo: claude stream to kimi');
    expect(lastKimi().path).toBe('/coding/v1/chat/completions');
  });

  it('keeps answering across token expiry: every 4-second token is refreshed once, with the device headers, and stored', async () => {
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const completion = await openai().chat.completions.create({
        model: KIMI_MODEL,
        messages: [{ role: 'user', content: `kimi round ${round}` }],
      });
      expect(completion.choices[0]!.message.content).toBe(`echo: kimi round ${round}`);
      seen.add(header(lastKimi(), 'authorization')!);
      await sleep(TOKEN_LIFETIME_S * 1000 + 300);
    }
    expect(seen.size).toBe(3);
    // Every grant presented a live refresh token: none was refused as spent.
    const grants = tokens.requests.filter((r) => r.path.startsWith('/kimi/'));
    expect(grants.length).toBeGreaterThanOrEqual(3);
    expect(kimiRotation.spent.size).toBe(grants.length);
    const row = await prisma.credential.findUniqueOrThrow({ where: { id: KIMI_FILE } });
    expect(row.status).toBe('active');

    // The download is the token file with the current tokens and the refresh time.
    const res = await management(`/auth-files/download?name=${KIMI_FILE}`);
    expect(res.status).toBe(200);
    const file = (await res.json()) as Record<string, unknown>;
    expect(file).toMatchObject({
      type: 'kimi',
      device_id: DEVICE_ID,
      scope: KIMI_SAMPLE.scope,
      timestamp: KIMI_SAMPLE.timestamp,
      token_type: 'Bearer',
    });
    expect(kimiRotation.valid.has(file.refresh_token as string)).toBe(true);
    expect(kimiTokens.has(file.access_token as string)).toBe(true);
    expect(Date.parse(file.last_refresh as string)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('iFlow logins imported from token files', () => {
  it('OpenAI SDK, non-streaming and streaming: the API key as Bearer, a signed session per request', async () => {
    const completion = await openai().chat.completions.create({
      model: IFLOW_MODEL,
      messages: [{ role: 'user', content: 'hello iflow' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: hello iflow');
    const first = lastIFlow();
    expect(first.path).toBe('/v1/chat/completions');
    expect(header(first, 'authorization')).toBe(`Bearer ${IFLOW_SAMPLE.api_key}`);

    expect(await chatStream(IFLOW_MODEL, 'stream iflow')).toBe('echo: stream iflow');
    expect(header(lastIFlow(), 'session-id')).not.toBe(header(first, 'session-id'));
  });

  it('Anthropic SDK, non-streaming and streaming', async () => {
    const message = await anthropic().messages.create({
      model: IFLOW_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'claude client to iflow' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: claude client to iflow' });
    expect(await messagesStream(IFLOW_MODEL, 'claude stream to iflow')).toBe('echo: claude stream to iflow');
  });

  it('a refused API key is renewed by a refresh (token grant, then user info) and the request succeeds', async () => {
    const completion = await openai().chat.completions.create({
      model: IFLOW_STALE_MODEL,
      messages: [{ role: 'user', content: 'renew my key' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: renew my key');
    const refusedFirst = iflow.received.find((r) => header(r.request, 'authorization') === 'Bearer sk-iflow-revoked');
    expect(refusedFirst?.status).toBe(401);
    expect(header(lastIFlow(), 'authorization')).toBe(`Bearer ${iflowKeyOf('iflow-rotated-access-1')}`);

    const res = await management(`/auth-files/download?name=${IFLOW_STALE_FILE}`);
    const file = (await res.json()) as Record<string, unknown>;
    expect(file).toMatchObject({
      type: 'iflow',
      api_key: iflowKeyOf('iflow-rotated-access-1'),
      access_token: 'iflow-rotated-access-1',
      prefix: 'rekey',
    });
    expect(file.refresh_token).not.toBe('iflow-stale-refresh');
  });

  it('no token, key or signature reached a log line', () => {
    const secrets = [
      'kimi-e2e-initial',
      'kimi-e2e-refresh',
      IFLOW_SAMPLE.api_key,
      IFLOW_SAMPLE.refresh_token,
      'sk-iflow-revoked',
      'iflow-stale-refresh',
    ];
    for (const line of stack.logs) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});
