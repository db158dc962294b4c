import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from './server';
import type { MockUpstream } from './types';

const chatBody = (stream = false) =>
  JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'alpha beta gamma delta' }] });

describe('mock upstream: scripted behaviour per API key', () => {
  let mock: MockUpstream;
  const post = (key: string, body = chatBody(), path = '/v1/chat/completions') =>
    fetch(`${mock.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });

  beforeAll(async () => {
    mock = await startMockUpstream();
  });
  afterAll(() => mock.close());
  beforeEach(() => mock.reset());

  describe("429 in each API's real shape", () => {
    it('OpenAI: Retry-After header and the rate_limit_exceeded error object, as the SDK parses it', async () => {
      mock.setBehavior('sk-limited', { status: 429, retryAfterSeconds: 7 });
      const client = new OpenAI({ apiKey: 'sk-limited', baseURL: `${mock.url}/v1`, maxRetries: 0 });
      const err = await client.chat.completions
        .create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const e = err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.headers.get('retry-after')).toBe('7');
      expect(e.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
      expect((e.error as { message: string }).message).toContain('Please try again in 7s.');
    });

    it('Anthropic: rate_limit_error envelope with Retry-After', async () => {
      mock.setBehavior('sk-ant-limited', { status: 429, retryAfterSeconds: 30 });
      const client = new Anthropic({ apiKey: 'sk-ant-limited', baseURL: mock.url, maxRetries: 0 });
      const err = await client.messages
        .create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      const e = err as InstanceType<typeof Anthropic.RateLimitError>;
      expect(e.headers.get('retry-after')).toBe('30');
      expect(e.error).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit exceeded.' } });
    });

    it('Gemini: RESOURCE_EXHAUSTED with a google.rpc.RetryInfo retryDelay and no Retry-After header', async () => {
      mock.setBehavior('AIza-limited', { status: 429, retryAfterSeconds: 7 });
      const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-pro:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'AIza-limited', 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(await res.json()).toEqual({
        error: {
          code: 429,
          message: 'You exceeded your current quota, please check your plan and billing details.',
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }],
        },
      });
      // @google/genai is ESM-only; this workspace compiles to CommonJS.
      const { ApiError, GoogleGenAI } = await import('@google/genai');
      const ai = new GoogleGenAI({ apiKey: 'AIza-limited', httpOptions: { baseUrl: mock.url } });
      const err = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as InstanceType<typeof ApiError>).status).toBe(429);
      expect((err as InstanceType<typeof ApiError>).message).toContain('RetryInfo');
    });
  });

  it("maps 401, 400 and 500 to each format's error types", async () => {
    mock.setBehavior('k401', { status: 401 });
    mock.setBehavior('k400', { status: 400 });
    mock.setBehavior('k500', { status: 500 });
    const e401 = await post('k401');
    expect(e401.status).toBe(401);
    expect(await e401.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
    expect(await (await post('k400')).json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const anth = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k500', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'c', max_tokens: 1, messages: [] }),
    });
    expect(anth.status).toBe(500);
    expect(await anth.json()).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'Internal server error.' },
    });
  });

  it('sends a scripted body and headers verbatim', async () => {
    mock.setBehavior('kb', {
      status: 400,
      body: { error: { message: 'model x is not supported', type: 'invalid_request_error' } },
      headers: { 'x-extra': '1' },
    });
    const res = await post('kb');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-extra')).toBe('1');
    expect(await res.json()).toEqual({ error: { message: 'model x is not supported', type: 'invalid_request_error' } });
  });

  it('fails failTimes requests and then succeeds', async () => {
    mock.setBehavior('kf', { status: 503, failTimes: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post('kf')).status);
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(mock.countByKey()).toEqual({ kf: 4 });
  });

  it('falls back to the "*" behaviour for keys without their own', async () => {
    mock.setBehavior('*', { status: 500 });
    mock.setBehavior('good', {});
    expect((await post('any')).status).toBe(500);
    expect((await post('good')).status).toBe(200);
    mock.clearBehavior('*');
    expect((await post('any')).status).toBe(200);
  });

  it('destroys the socket before the first byte', async () => {
    mock.setBehavior('kc', { closeBeforeFirstByte: true, failTimes: 1 });
    await expect(post('kc')).rejects.toThrow();
    expect((await post('kc')).status).toBe(200);
  });

  it('cuts a stream mid-way: the SDK sees some content and then an error', async () => {
    mock.setBehavior('km', { closeMidStream: true, streamChunks: 4 });
    const client = new OpenAI({ apiKey: 'km', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: 'a b c d e f g h' }],
    });
    let text = '';
    const consume = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    };
    await expect(consume()).rejects.toThrow();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toBe('echo: a b c d e f g h');
  });

  it('cuts a JSON body mid-way for non-streamed requests', async () => {
    mock.setBehavior('kmj', { closeMidStream: true });
    const res = await post('kmj');
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('sends an empty 200 stream', async () => {
    mock.setBehavior('ke', { emptyStream: true });
    const res = await post('ke', chatBody(true));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe('');
  });

  it('spreads stream chunks over separate writes with chunkDelayMs', async () => {
    mock.setBehavior('kd', { chunkDelayMs: 10, streamChunks: 3 });
    const res = await post('kd', chatBody(true));
    const reads: string[] = [];
    const decoder = new TextDecoder();
    for await (const part of res.body!) reads.push(decoder.decode(part as Uint8Array));
    // role chunk, 3 content chunks, finish chunk, [DONE]: each in its own write.
    expect(reads.length).toBeGreaterThanOrEqual(6);
    expect(reads.at(-1)).toBe('data: [DONE]\n\n');
  });

  it('waits delayMs before answering and still echoes', async () => {
    mock.setBehavior('kw', { delayMs: 20 });
    const res = await post('kw');
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe(
      'echo: alpha beta gamma delta',
    );
  });

  it('answers with a scripted reply instead of the echo', async () => {
    mock.setBehavior('ks', { reply: { text: 'scripted!', toolCalls: [{ name: 'do_it', args: { n: 3 } }] } });
    const client = new OpenAI({ apiKey: 'ks', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(res.choices[0].message.content).toBe('scripted!');
    const call = res.choices[0].message.tool_calls![0];
    expect(call.type === 'function' && [call.function.name, call.function.arguments]).toEqual(['do_it', '{"n":3}']);
  });

  it("rejects keys outside acceptKeys with the API's 401", async () => {
    const strict = await startMockUpstream({ acceptKeys: ['only-me'] });
    try {
      const bad = await fetch(`${strict.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer nope' },
        body: chatBody(),
      });
      expect(bad.status).toBe(401);
      const good = await fetch(`${strict.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer only-me' },
        body: chatBody(),
      });
      expect(good.status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('answers malformed JSON with a 400 and unknown routes with a 404', async () => {
    const bad = await post('kj', '{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const unknown = await post('kj', '{}', '/v1/nothing');
    expect(unknown.status).toBe(404);
  });

  it('reset() forgets requests, counts and behaviours; record:false keeps only counts', async () => {
    mock.setBehavior('kr', { status: 500 });
    await post('kr');
    expect(mock.requests).toHaveLength(1);
    mock.reset();
    expect(mock.requests).toHaveLength(0);
    expect(mock.countByKey()).toEqual({});
    expect((await post('kr')).status).toBe(200);

    const lean = await startMockUpstream({ record: false });
    try {
      await fetch(`${lean.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer a' },
        body: chatBody(),
      });
      expect(lean.requests).toHaveLength(0);
      expect(lean.countByKey()).toEqual({ a: 1 });
    } finally {
      await lean.close();
    }
  });

  it('serves many keep-alive requests concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => post(`key-${i % 4}`).then((r) => r.json())),
    );
    expect(results.every((r) => (r as { object: string }).object === 'chat.completion')).toBe(true);
    expect(mock.countByKey()).toEqual({ 'key-0': 50, 'key-1': 50, 'key-2': 50, 'key-3': 50 });
  });
});
