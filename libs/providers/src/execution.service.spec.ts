import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { snapshotOf, type Catalog, type CatalogSnapshot, type CredentialInfo } from '@cpa/catalog';
import { testCredential } from '@cpa/catalog/testing';
import {
  Patterns,
  RouteActions,
  type RefreshCredentialReply,
  type AttemptFailure,
  type AttemptResult,
  type ClientFormat,
  type ExecuteRequest,
  type ProviderFamily,
  type ResponseHead,
} from '@cpa/contracts';
import { startCodeAssistMock, startMockUpstream, type MockUpstream } from '@cpa/testing';
import { isForward, isFrame, type Forward, type Frame } from '@cpa/transport';
import { SecretBox } from '@cpa/db/light';
import type { CredentialRefresher } from './credential-refresher';
import { ExecutionService } from './execution.service';
import { tokenFingerprint } from './oauth/secret';
import { SecretStore } from './secret-store';
import { UpstreamClient } from './upstream-client';

// The executor against the in-process mock upstream (all four formats), through the real HTTP client.
let mock: MockUpstream;
let upstream: UpstreamClient;
let reports: AttemptResult[];
let service: ExecutionService;

const KEYS: Partial<Record<ProviderFamily, string>> = {
  claude: 'k-claude',
  gemini: 'k-gemini',
  codex: 'k-codex',
  'openai-compat': 'k-compat',
};

function credential(family: ProviderFamily): CredentialInfo {
  return testCredential(family, {
    provider: family,
    baseUrl: family === 'codex' || family === 'openai-compat' ? `${mock.url}/v1` : mock.url,
  });
}

beforeAll(async () => {
  mock = await startMockUpstream();
  upstream = new UpstreamClient();
  const byId = new Map((Object.keys(KEYS) as ProviderFamily[]).map((f) => [f, credential(f)]));
  // The registry labels metrics by model (no model is served here: they count as `other`).
  const catalog = { snapshot: { byId, registry: { lookup: () => [] } } } as unknown as Catalog;
  const secrets = { get: async (c: CredentialInfo) => ({ apiKey: KEYS[c.provider] }) } as unknown as SecretStore;
  service = new ExecutionService(catalog, secrets, upstream, { report: (r) => reports.push(r) });
});
afterAll(async () => {
  await upstream?.close();
  await mock?.close();
});
beforeEach(() => {
  mock.reset();
  reports = [];
});

function request(
  family: ProviderFamily,
  clientFormat: ClientFormat,
  stream: boolean,
  upstreamModel: string,
  action?: string,
): ExecuteRequest {
  return {
    route: {
      requestId: 'r1',
      clientFormat,
      model: 'client-model',
      stream,
      sessionIds: [],
      headers: {},
      deadline: Date.now() + 10_000,
      action,
    },
    credentialId: family,
    family,
    upstreamModel,
    baseModel: upstreamModel,
    attempt: 0,
    triedCredentialIds: [family],
  };
}

async function run(
  req: ExecuteRequest,
  body: unknown,
  executor = service,
): Promise<{ head: ResponseHead; text: string; frames: Frame[] }> {
  const out = await executor.execute(req, Buffer.from(JSON.stringify(body)), new AbortController().signal);
  if (isForward(out)) throw new Error(`attempt failed: ${JSON.stringify((out as Forward).data)}`);
  const frames = isFrame(out) ? [out] : await lastValueFrom((out as Observable<Frame>).pipe(toArray()));
  return { head: frames[0].meta as ResponseHead, text: frames.map((f) => f.body?.toString() ?? '').join(''), frames };
}

async function failure(req: ExecuteRequest, body: unknown, executor = service): Promise<AttemptFailure> {
  const out = await executor.execute(req, Buffer.from(JSON.stringify(body)), new AbortController().signal);
  if (!isForward(out)) throw new Error('expected a forwarded failure');
  expect(out.pattern).toBe(Patterns.attemptFailed);
  return out.data as AttemptFailure;
}

const chatBody = (stream = false) => ({
  model: 'client-model',
  stream,
  messages: [{ role: 'user', content: 'hello from chat' }],
});
const sseData = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));

describe('ExecutionService translation', () => {
  it('translates a non-streamed chat request to Claude and the answer back, reporting usage', async () => {
    const { head, text } = await run(request('claude', 'openai-chat', false, 'claude-x'), chatBody());
    expect(head).toMatchObject({ status: 200, complete: true, headers: { 'content-type': 'application/json' } });
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'client-model',
      choices: [{ message: { content: 'echo: hello from chat' }, finish_reason: 'stop' }],
    });
    expect(mock.requests[0]).toMatchObject({ path: '/v1/messages', format: 'claude', apiKey: 'k-claude' });
    expect(mock.requests[0].body).toMatchObject({ model: 'claude-x', messages: [{ role: 'user' }] });
    expect(reports).toEqual([
      expect.objectContaining({
        ok: true,
        status: 200,
        credentialId: 'claude',
        usage: { inputTokens: 3, outputTokens: 4, cachedTokens: 0 },
      }),
    ]);
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4 });
  });

  it('streams a Claude client from a Gemini upstream event by event', async () => {
    const { head, text, frames } = await run(request('gemini', 'claude', true, 'gemini-2.5-flash'), {
      model: 'client-model',
      max_tokens: 50,
      stream: true,
      messages: [{ role: 'user', content: 'stream this to claude' }],
    });
    expect(head.headers['content-type']).toBe('text/event-stream');
    expect(frames.length).toBeGreaterThan(1);
    expect(mock.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(mock.requests[0].query).toEqual({ alt: 'sse' });
    const events = sseData(text);
    expect(events[0]).toMatchObject({ type: 'message_start', message: { model: 'client-model' } });
    const deltas = events
      .filter((e) => e.type === 'content_block_delta')
      .map((e) => e.delta.text)
      .join('');
    expect(deltas).toBe('echo: stream this to claude');
    expect(events.at(-1)).toEqual({ type: 'message_stop' });
    expect(reports[0]).toMatchObject({ ok: true, usage: { inputTokens: 4, outputTokens: 5 } });
  });

  it('aggregates the streaming-only Responses upstream for a non-streaming Gemini client', async () => {
    const { head, text } = await run(request('codex', 'gemini', false, 'gpt-5'), {
      contents: [{ role: 'user', parts: [{ text: 'aggregate me' }] }],
    });
    expect(head).toMatchObject({ status: 200, complete: true });
    expect((mock.requests[0].body as { stream: boolean }).stream).toBe(true);
    const body = JSON.parse(text);
    expect(body.candidates[0].content.parts[0].text).toBe('echo: aggregate me');
    expect(body.candidates[0].finishReason).toBe('STOP');
    expect(reports[0].usage).toMatchObject({ inputTokens: 2, outputTokens: 3 });
  });

  it('aggregates the same-format Responses stream keeping the request bytes apart from the stream flag', async () => {
    const { text } = await run(request('codex', 'openai-responses', false, 'gpt-5'), {
      model: 'client-model',
      input: 'plain responses',
      store: false,
    });
    expect(mock.requests[0].body).toEqual({ model: 'gpt-5', input: 'plain responses', store: false, stream: true });
    expect(JSON.parse(text)).toMatchObject({
      object: 'response',
      status: 'completed',
      output: [{ type: 'message', content: [{ text: 'echo: plain responses' }] }],
    });
  });

  it('passes a same-format stream through untouched and taps its usage', async () => {
    const { head, text } = await run(request('openai-compat', 'openai-chat', true, 'gpt-4o-mini'), {
      ...chatBody(true),
      stream_options: { include_usage: true },
    });
    expect(head.headers['content-type']).toContain('text/event-stream');
    const chunks = sseData(text);
    expect(mock.requests[0].rawBody).toBe(
      JSON.stringify({ ...chatBody(true), model: 'gpt-4o-mini', stream_options: { include_usage: true } }),
    );
    expect(chunks[0].model).toBe('gpt-4o-mini'); // upstream bytes, untouched
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(reports[0].usage).toMatchObject({ inputTokens: 3, outputTokens: 4 });
  });

  it('answers a Gemini client that streams without alt=sse with a JSON array, translated or passed through', async () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'array please' }] }] };
    const translated = await run(request('claude', 'gemini', true, 'claude-x', RouteActions.streamJsonArray), body);
    expect(translated.head.headers['content-type']).toBe('application/json');
    const chunks = JSON.parse(translated.text) as Array<{
      candidates?: Array<{ content?: { parts?: Array<{ text?: string }> } }>;
    }>;
    expect(chunks.map((c) => c.candidates?.[0]?.content?.parts?.[0]?.text ?? '').join('')).toBe('echo: array please');
    const passed = await run(request('gemini', 'gemini', true, 'gemini-2.5-flash', RouteActions.streamJsonArray), body);
    expect(mock.requests[1].query).toEqual({});
    expect(Array.isArray(JSON.parse(passed.text))).toBe(true);
  });

  it('translates an upstream error before the first byte, keeping status and retry hint', async () => {
    mock.setBehavior('k-claude', { status: 429, retryAfterSeconds: 7 });
    const f = await failure(request('claude', 'openai-chat', false, 'claude-x'), chatBody());
    expect(f.status).toBe(429);
    expect(f.retryAfterMs).toBe(7000);
    // The upstream's own Retry-After travels to the client unchanged.
    expect(f.headers['retry-after']).toBe('7');
    expect(f.headers['content-type']).toBe('application/json');
    expect(JSON.parse(f.body)).toMatchObject({ error: { type: 'rate_limit_error' } });
  });

  it('keeps a same-format upstream error body exactly', async () => {
    mock.setBehavior('k-claude', {
      status: 400,
      body: { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } },
    });
    const f = await failure(request('claude', 'claude', false, 'claude-x'), {
      model: 'client-model',
      max_tokens: 5,
      messages: [],
    });
    expect(JSON.parse(f.body)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } });
  });

  it('ends a translated stream that breaks mid-way with the client format error event', async () => {
    mock.setBehavior('k-compat', { closeMidStream: true, streamChunks: 8, chunkDelayMs: 5 });
    const { text } = await run(request('openai-compat', 'claude', true, 'gpt-4o-mini'), {
      model: 'client-model',
      max_tokens: 50,
      stream: true,
      messages: [{ role: 'user', content: 'one two three four five six seven eight' }],
    });
    expect(text).toContain('event: error');
    expect(reports[0]).toMatchObject({ ok: false, status: 502 });
  });

  it('refuses a client body it cannot decode without calling upstream', async () => {
    const out = await service.execute(
      request('claude', 'openai-chat', false, 'claude-x'),
      Buffer.from('[1,2]'),
      new AbortController().signal,
    );
    expect(isForward(out) && (out.data as AttemptFailure).status).toBe(400);
    expect(mock.requests).toHaveLength(0);
  });
});

describe('ExecutionService: the answered request, for its usage record', () => {
  it('reports the client request with its attempt count and times: a first byte for streams only', async () => {
    const before = Date.now();
    const plain = { ...request('claude', 'openai-chat', false, 'claude-x'), attempt: 2 };
    plain.route.receivedAt = before - 50;
    await run(plain, chatBody());
    expect(reports[0]!.request).toEqual({
      requestId: 'r1',
      model: 'client-model',
      attempts: 3,
      receivedAt: before - 50,
      finishedAt: expect.any(Number),
    });
    expect(reports[0]!.request!.finishedAt).toBeGreaterThanOrEqual(before);

    reports = [];
    const streamed = request('openai-compat', 'openai-chat', true, 'gpt-4o-mini');
    await run(streamed, chatBody(true));
    const answered = reports[0]!.request!;
    expect(answered).toMatchObject({ attempts: 1, firstByteAt: expect.any(Number) });
    expect(answered.receivedAt).toBeUndefined(); // a gateway that does not stamp it
    expect(answered.firstByteAt!).toBeLessThanOrEqual(answered.finishedAt);
  });
});

describe('ExecutionService count tokens', () => {
  const claudeCount = { model: 'client-model', messages: [{ role: 'user', content: 'count these four words' }] };

  it('relays Claude count_tokens to a Claude upstream', async () => {
    const { text } = await run(request('claude', 'claude', false, 'claude-x', RouteActions.countTokens), claudeCount);
    expect(mock.requests[0].path).toBe('/v1/messages/count_tokens');
    expect(JSON.parse(text)).toEqual({ input_tokens: 4 });
  });

  it('counts natively on a Gemini upstream for a Claude client', async () => {
    const { text } = await run(
      request('gemini', 'claude', false, 'gemini-2.5-flash', RouteActions.countTokens),
      claudeCount,
    );
    expect(mock.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:countTokens');
    expect(mock.requests[0].body).toMatchObject({ generateContentRequest: { model: 'models/gemini-2.5-flash' } });
    expect(JSON.parse(text)).toEqual({ input_tokens: 4 });
  });

  it('estimates locally when the upstream cannot count', async () => {
    const { text } = await run(request('openai-compat', 'gemini', false, 'gpt-4o-mini', RouteActions.countTokens), {
      contents: [{ role: 'user', parts: [{ text: 'x'.repeat(40) }] }],
    });
    expect(JSON.parse(text)).toEqual({ totalTokens: 10 });
    expect(mock.requests).toHaveLength(0);
  });
});

const SSE = { 'content-type': 'text/event-stream' };
const claudeBody = (stream: boolean) => ({
  model: 'client-model',
  max_tokens: 50,
  stream,
  messages: [{ role: 'user', content: 'hello claude' }],
});
const OVERLOADED = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';

describe('ExecutionService: an error as the first stream event is a failure before the first byte', () => {
  it('forwards a Claude overloaded_error opening the stream as 529 with its body, reporting nothing itself', async () => {
    mock.setBehavior('k-claude', { status: 200, headers: SSE, body: `event: error\ndata: ${OVERLOADED}\n\n` });
    const f = await failure(request('claude', 'claude', true, 'claude-x'), claudeBody(true));
    expect(f.status).toBe(529);
    expect(f.headers['content-type']).toBe('application/json');
    expect(JSON.parse(f.body)).toEqual(JSON.parse(OVERLOADED));
    expect(f.network).toBeUndefined();
    // The scheduler records forwarded failures; a report here would count the attempt twice.
    expect(reports).toEqual([]);
  });

  it('waits past events that carry nothing (ping) for the first real one', async () => {
    mock.setBehavior('k-claude', {
      status: 200,
      headers: SSE,
      body: `event: ping\ndata: {"type":"ping"}\n\nevent: error\ndata: ${OVERLOADED}\n\n`,
    });
    const f = await failure(request('claude', 'claude', true, 'claude-x'), claudeBody(true));
    expect(f.status).toBe(529);
  });

  it('re-expresses the opening error in the client format when translating', async () => {
    mock.setBehavior('k-claude', { status: 200, headers: SSE, body: `event: error\ndata: ${OVERLOADED}\n\n` });
    const f = await failure(request('claude', 'openai-chat', true, 'claude-x'), chatBody(true));
    expect(f.status).toBe(529);
    expect(JSON.parse(f.body)).toMatchObject({ error: { message: 'Overloaded' } });
  });

  it('maps an OpenAI rate-limit error chunk to 429', async () => {
    const error = {
      error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
    };
    mock.setBehavior('k-compat', { status: 200, headers: SSE, body: `data: ${JSON.stringify(error)}\n\n` });
    const f = await failure(request('openai-compat', 'openai-chat', true, 'gpt-4o-mini'), chatBody(true));
    expect(f.status).toBe(429);
    expect(JSON.parse(f.body)).toEqual(error);
  });

  it('keeps the status of a Gemini error object and its RetryInfo hint', async () => {
    const error = {
      error: {
        code: 503,
        message: 'The model is overloaded.',
        status: 'UNAVAILABLE',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }],
      },
    };
    mock.setBehavior('k-gemini', { status: 200, headers: SSE, body: `data: ${JSON.stringify(error)}\n\n` });
    const f = await failure(request('gemini', 'gemini', true, 'gemini-2.5-flash'), {
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
    });
    expect(f.status).toBe(503);
    expect(f.retryAfterMs).toBe(3000);
  });

  it('relays an error after the first event in the stream and reports the attempt as failed', async () => {
    const start =
      '{"type":"message_start","message":{"id":"m1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}';
    const body = `event: message_start\ndata: ${start}\n\nevent: error\ndata: ${OVERLOADED}\n\n`;
    mock.setBehavior('k-claude', { status: 200, headers: SSE, body });
    const { head, text } = await run(request('claude', 'claude', true, 'claude-x'), claudeBody(true));
    expect(head.status).toBe(200);
    expect(text).toBe(body);
    expect(reports).toEqual([expect.objectContaining({ ok: false, status: 529, credentialId: 'claude' })]);
  });

  it('reports a translated stream that carries an error mid-way as failed, ending it with the client error event', async () => {
    const chunk =
      '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}';
    const error = '{"error":{"message":"server had an error","type":"server_error"}}';
    mock.setBehavior('k-compat', { status: 200, headers: SSE, body: `data: ${chunk}\n\ndata: ${error}\n\n` });
    const { text } = await run(request('openai-compat', 'claude', true, 'gpt-4o-mini'), claudeBody(true));
    expect(text).toContain('"text":"Hi"');
    expect(text).toContain('event: error');
    expect(reports).toEqual([expect.objectContaining({ ok: false, status: 502 })]);
  });

  it('still succeeds and reports success for a healthy stream', async () => {
    const { text } = await run(request('claude', 'claude', true, 'claude-x'), claudeBody(true));
    expect(text).toContain('message_stop');
    expect(reports).toEqual([expect.objectContaining({ ok: true, status: 200 })]);
  });
});

describe('ExecutionService: refresh-on-401 for OAuth credentials', () => {
  /** The published snapshot as SecretStore reads it: the refresher below rotates the token and republishes. */
  const stored = new Map<string, Record<string, string>>();
  const versions = new Map<string, number>();
  const box = new SecretBox(SecretBox.generateKey());
  let refreshCalls: Array<{ credentialId: string; rejectedToken: string }>;
  let refreshReply: (credentialId: string) => RefreshCredentialReply;
  let oauthService: ExecutionService;

  const oauthCredential = (id: string, kind: 'oauth' | 'api_key'): CredentialInfo => ({
    ...credential('claude'),
    id,
    kind,
    version: versions.get(id) ?? 1,
  });

  // A new executor per test: its secret cache starts empty.
  beforeEach(() => {
    const published = () =>
      snapshotOf(
        [oauthCredential('claude-oauth', 'oauth'), oauthCredential('claude-key', 'api_key')],
        {},
        {
          generation: 1,
          secrets: new Map(
            [...stored].map(([id, secret]) => [
              id,
              { version: versions.get(id) ?? 1, secretEnc: box.encryptJson(secret) },
            ]),
          ),
        },
      );
    const catalog = {
      snapshot: undefined as unknown as CatalogSnapshot,
      reload: async () => (catalog.snapshot = published()),
    };
    const refresher: CredentialRefresher = {
      refreshRejected: async (credentialId, rejectedToken) => {
        refreshCalls.push({ credentialId, rejectedToken });
        return refreshReply(credentialId);
      },
    };
    refreshCalls = [];
    versions.clear();
    stored.set('claude-oauth', { accessToken: 'oat-old', refreshToken: 'ort-1' });
    stored.set('claude-key', { apiKey: 'sk-key-refused' });
    catalog.snapshot = published();
    oauthService = new ExecutionService(
      catalog as unknown as Catalog,
      new SecretStore(catalog as unknown as Catalog, box),
      upstream,
      { report: (r) => reports.push(r) },
      refresher,
    );
    refreshReply = (id) => {
      stored.set(id, { accessToken: 'oat-new', refreshToken: 'ort-2' });
      versions.set(id, 3);
      return { ok: true, version: 3 };
    };
  });

  const oauthRequest = (id: string, stream = false): ExecuteRequest => ({
    ...request('claude', 'claude', stream, 'claude-x'),
    credentialId: id,
    triedCredentialIds: [id],
  });

  it('refreshes the refused token once and retries the same credential with the new one', async () => {
    mock.setBehavior('oat-old', { status: 401 });
    const { head, text } = await run(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(head.status).toBe(200);
    expect(JSON.parse(text).content[0].text).toBe('echo: hello claude');
    expect(refreshCalls).toEqual([{ credentialId: 'claude-oauth', rejectedToken: tokenFingerprint('oat-old') }]);
    expect(mock.requests.map((r) => r.apiKey)).toEqual(['oat-old', 'oat-new']);
    expect(reports).toEqual([expect.objectContaining({ ok: true, credentialId: 'claude-oauth' })]);
  });

  it('takes the new token from the republished snapshot, and keeps using it', async () => {
    // A first request caches the old secret under catalog version 1.
    await run(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    mock.setBehavior('oat-old', { status: 401 });
    await run(oauthRequest('claude-oauth', true), claudeBody(true), oauthService);
    expect(mock.requests.map((r) => r.apiKey)).toEqual(['oat-old', 'oat-old', 'oat-new']);
    // Later requests use the refreshed token straight away.
    await run(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(mock.requests.at(-1)!.apiKey).toBe('oat-new');
    expect(refreshCalls).toHaveLength(1);
  });

  it('waits for the snapshot to show the refreshed version when the worker answered before its republish landed', async () => {
    mock.setBehavior('oat-old', { status: 401 });
    refreshReply = (id) => {
      // Another worker's refresh: in Postgres already, in the snapshot a moment later.
      setTimeout(() => {
        stored.set(id, { accessToken: 'oat-late', refreshToken: 'ort-2' });
        versions.set(id, 3);
      }, 200);
      return { ok: true, version: 3 };
    };
    const { head } = await run(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(head.status).toBe(200);
    expect(mock.requests.map((r) => r.apiKey)).toEqual(['oat-old', 'oat-late']);
  });

  it('never loops: a second 401 goes to the scheduler as an ordinary failure', async () => {
    mock.setBehavior('oat-old', { status: 401 });
    mock.setBehavior('oat-new', { status: 401 });
    const f = await failure(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(f.status).toBe(401);
    expect(JSON.parse(f.body)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(refreshCalls).toHaveLength(1);
    expect(mock.requests.map((r) => r.apiKey)).toEqual(['oat-old', 'oat-new']);
  });

  it('forwards the 401 when no newer token can be had', async () => {
    mock.setBehavior('oat-old', { status: 401 });
    refreshReply = () => ({ ok: false, reason: 'failed' });
    const f = await failure(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(f.status).toBe(401);
    expect(mock.requests).toHaveLength(1);
  });

  it('does not retry when the refresher claims success but the stored token is the refused one', async () => {
    mock.setBehavior('oat-old', { status: 401 });
    refreshReply = () => ({ ok: true });
    const f = await failure(oauthRequest('claude-oauth'), claudeBody(false), oauthService);
    expect(f.status).toBe(401);
    expect(mock.requests).toHaveLength(1);
  });

  it('leaves API-key credentials alone: their 401 goes to the scheduler', async () => {
    mock.setBehavior('sk-key-refused', { status: 401 });
    const f = await failure(oauthRequest('claude-key'), claudeBody(false), oauthService);
    expect(f.status).toBe(401);
    expect(refreshCalls).toEqual([]);
    expect(mock.requests).toHaveLength(1);
  });
});

describe('ExecutionService: a secret the refresh worker completes', () => {
  it('has an Antigravity login without a project refreshed (the refresh looks the project up) before calling', async () => {
    const codeAssist = await startCodeAssistMock({
      verifyToken: (token) => (token.startsWith('ya29.') ? 'valid' : 'unknown'),
      projects: ['ag-project'],
    });
    try {
      const box = new SecretBox(SecretBox.generateKey());
      let secret: Record<string, string> = { accessToken: 'ya29.imported', refreshToken: '1//r' };
      let version = 1;
      const info: CredentialInfo = {
        ...credential('gemini'),
        id: 'ag',
        provider: 'antigravity',
        kind: 'oauth',
        baseUrl: codeAssist.url,
      };
      const published = () =>
        snapshotOf(
          [{ ...info, version }],
          {},
          { generation: version, secrets: new Map([['ag', { version, secretEnc: box.encryptJson(secret) }]]) },
        );
      const catalog = { snapshot: published(), reload: async () => (catalog.snapshot = published()) };
      const refreshCalls: string[] = [];
      const refresher: CredentialRefresher = {
        // What the refresh worker does for Antigravity: new tokens, and the project from loadCodeAssist.
        refreshRejected: async (credentialId) => {
          refreshCalls.push(credentialId);
          secret = { accessToken: 'ya29.refreshed', refreshToken: '1//r', projectId: 'ag-project' };
          version = 2;
          return { ok: true, version };
        },
      };
      const executor = new ExecutionService(
        catalog as unknown as Catalog,
        new SecretStore(catalog as unknown as Catalog, box),
        upstream,
        { report: () => undefined },
        refresher,
      );
      const req: ExecuteRequest = {
        ...request('antigravity', 'gemini', false, 'gemini-2.5-pro'),
        credentialId: 'ag',
        triedCredentialIds: ['ag'],
      };
      const { head } = await run(req, { contents: [{ role: 'user', parts: [{ text: 'which project' }] }] }, executor);
      expect(head.status).toBe(200);
      expect(refreshCalls).toEqual(['ag']);
      expect(codeAssist.requests.map((r) => (r.body as { project?: string }).project)).toEqual(['ag-project']);
    } finally {
      await codeAssist.close();
    }
  });
});
