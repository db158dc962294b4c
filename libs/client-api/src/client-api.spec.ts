import { describe, expect, it, vi } from 'vitest';
import { snapshotOf } from '@cpa/catalog';
import { testCredential } from '@cpa/catalog/testing';
import { extractClientKey } from './client-key.service';
import { RouteActions } from '@cpa/contracts';
import { claudeModelList, geminiModelInfo, geminiModelList, openAIModelList, wantsClaudeModelList } from './model-list';
import { BadRequestError, formatOfPath, LAYOUT_MIN_BYTES, readGeminiCall, readRequestFields } from './request-fields';

describe('extractClientKey', () => {
  const q = (s = '') => new URLSearchParams(s);
  it('reads every place CLIProxyAPI accepts, Bearer first', () => {
    expect(extractClientKey({ authorization: 'Bearer k1', 'x-api-key': 'k2' }, q())).toBe('k1');
    expect(extractClientKey({ 'x-api-key': 'k2' }, q())).toBe('k2');
    expect(extractClientKey({ 'x-goog-api-key': 'k3' }, q())).toBe('k3');
    expect(extractClientKey({}, q('key=k4'))).toBe('k4');
    expect(extractClientKey({}, q('auth_token=k5'))).toBe('k5');
    expect(extractClientKey({ authorization: 'Basic abc' }, q())).toBeUndefined();
  });
});

describe('readRequestFields', () => {
  it('reads model and stream from OpenAI and Claude bodies', () => {
    expect(readRequestFields('openai-chat', Buffer.from('{"model":" gpt ","stream":true}'))).toMatchObject({
      model: 'gpt',
      stream: true,
    });
    expect(readRequestFields('claude', Buffer.from('{"model":"c"}'))).toMatchObject({ model: 'c', stream: false });
  });
  it('takes model and streaming from the URL for Gemini', () => {
    expect(readRequestFields('gemini', Buffer.from('{"contents":[]}'), 'gemini-2.5-pro', true)).toMatchObject({
      model: 'gemini-2.5-pro',
      stream: true,
    });
  });
  it('rejects malformed JSON, non-objects, missing model and a non-boolean stream', () => {
    expect(() => readRequestFields('openai-chat', Buffer.from('{"model":'))).toThrow(BadRequestError);
    expect(() => readRequestFields('openai-chat', Buffer.from('[1]'))).toThrow(/JSON object/);
    expect(() => readRequestFields('openai-chat', Buffer.from('{}'))).toThrow(/"model"/);
    expect(() => readRequestFields('claude', Buffer.from('{"model":"m","stream":"yes"}'))).toThrow(/"stream"/);
    expect(() => readRequestFields('claude', Buffer.from('{"model":"m","stream":true} trailing'))).toThrow(
      /Invalid JSON body/,
    );
    expect(() => readRequestFields('gemini', Buffer.from('{"contents":'), 'g')).toThrow(/Invalid JSON body/);
    expect(() => readRequestFields('claude', Buffer.from('{"model":"a\\x"}'))).toThrow(/Invalid JSON body/);
    // An empty body is an object without a model.
    expect(() => readRequestFields('openai-chat', Buffer.alloc(0))).toThrow(/"model"/);
  });
  it('reads the top-level fields only, as JSON.parse would (escaped names, nested look-alikes)', () => {
    const body = Buffer.from('{"messages":[{"model":"nested","stream":false}],"mod\\u0065l":"real","stream":true}');
    expect(readRequestFields('claude', body)).toMatchObject({ model: 'real', stream: true });
  });
  it("hands its scan on for the executor (RouteRequest.bodyLayout), as JSON the executor's rewrite accepts", () => {
    const text = 'x'.repeat(LAYOUT_MIN_BYTES);
    const body = Buffer.from(`{"model":"m", "messages":[{"role":"user","content":"${text}"}],"stream":false}`);
    const { layout } = readRequestFields('openai-chat', body);
    expect(layout).toEqual({
      length: body.length,
      close: body.length - 1,
      members: 3,
      names: ['model', 'stream', 'stream_options'],
      spans: { model: [9, 12], stream: [body.length - 6, body.length - 1] },
    });
    expect(readRequestFields('claude', Buffer.from(`{"model":"a","model":"b","x":"${text}"}`)).layout).toBeUndefined();
    // A small body is scanned again at the executor instead.
    expect(readRequestFields('claude', Buffer.from('{"model":"a"}')).layout).toBeUndefined();
  });
  it('never turns the body into a string or parses all of it', () => {
    const body = Buffer.from(
      JSON.stringify({
        model: 'claude-bench',
        messages: [{ role: 'user', content: 'x'.repeat(100_000) }],
        stream: true,
      }),
    );
    const parse = vi.spyOn(JSON, 'parse');
    const toString = vi.spyOn(Buffer.prototype, 'toString');
    try {
      expect(readRequestFields('claude', body)).toMatchObject({ model: 'claude-bench', stream: true });
      // Only the model's own value is decoded.
      for (const call of parse.mock.calls) expect(String(call[0]).length).toBeLessThan(40);
      for (const result of toString.mock.results) expect(String(result.value).length).toBeLessThan(40);
    } finally {
      parse.mockRestore();
      toString.mockRestore();
    }
  });
});

describe('formatOfPath', () => {
  it('maps paths to the API whose error format they speak', () => {
    expect(formatOfPath('/v1beta/models/x:generateContent')).toBe('gemini');
    expect(formatOfPath('/v1/messages/count_tokens')).toBe('claude');
    expect(formatOfPath('/v1/responses')).toBe('openai-responses');
    expect(formatOfPath('/v1/chat/completions')).toBe('openai-chat');
  });
});

describe('model lists', () => {
  const snapshot = snapshotOf(
    [testCredential('a', { provider: 'openai-compat', models: [{ name: 'm1', alias: 'm1' }] })],
    {},
  );
  it('answers in OpenAI, Claude and Gemini shapes', () => {
    expect(openAIModelList(snapshot)).toMatchObject({
      object: 'list',
      data: [{ id: 'm1', object: 'model', owned_by: 'openai-compatible' }],
    });
    expect(claudeModelList(snapshot)).toMatchObject({
      data: [{ type: 'model', id: 'm1' }],
      has_more: false,
      first_id: 'm1',
      last_id: 'm1',
    });
    expect(geminiModelList(snapshot)).toMatchObject({ models: [{ name: 'models/m1' }] });
  });
  it('lists only the models a client key may use (exact names and * patterns; none = all)', () => {
    const two = snapshotOf(
      [
        testCredential('a', {
          provider: 'openai-compat',
          models: [
            { name: 'gpt-x', alias: 'gpt-x' },
            { name: 'claude-y', alias: 'claude-y' },
          ],
        }),
      ],
      {},
    );
    const ids = (list: { data: { id: string }[] }) => list.data.map((m) => m.id).sort();
    expect(ids(openAIModelList(two))).toEqual(['claude-y', 'gpt-x']);
    expect(ids(openAIModelList(two, ['claude-*']))).toEqual(['claude-y']);
    expect(ids(claudeModelList(two, ['gpt-x']))).toEqual(['gpt-x']);
    expect(geminiModelList(two, ['nothing-*'])).toEqual({ models: [] });
    expect(geminiModelInfo(two, 'gpt-x', ['claude-*'])).toBeUndefined();
    expect(geminiModelInfo(two, 'claude-y', ['claude-*'])).toMatchObject({ name: 'models/claude-y' });
  });
  it('answers one Gemini model with or without the models/ prefix', () => {
    expect(geminiModelInfo(snapshot, 'm1')).toMatchObject({
      name: 'models/m1',
      supportedGenerationMethods: expect.arrayContaining(['generateContent']),
    });
    expect(geminiModelInfo(snapshot, 'models/M1')).toMatchObject({ name: 'models/m1' });
    expect(geminiModelInfo(snapshot, 'nope')).toBeUndefined();
  });
  it('picks the Claude shape for anthropic-version or a claude-cli user agent', () => {
    expect(wantsClaudeModelList({ 'anthropic-version': '2023-06-01' })).toBe(true);
    expect(wantsClaudeModelList({ 'user-agent': 'claude-cli/2.0.1' })).toBe(true);
    expect(wantsClaudeModelList({ 'user-agent': 'openai/5' })).toBe(false);
  });
});

describe('readGeminiCall', () => {
  const q = (s = '') => new URLSearchParams(s);
  it('reads model, streaming and the route action', () => {
    expect(readGeminiCall('gemini-2.5-pro:generateContent', q())).toEqual({
      urlModel: 'gemini-2.5-pro',
      urlStream: false,
    });
    expect(readGeminiCall('gemini-2.5-pro(high):streamGenerateContent', q('alt=sse'))).toEqual({
      urlModel: 'gemini-2.5-pro(high)',
      urlStream: true,
      action: undefined,
    });
    expect(readGeminiCall('g:streamGenerateContent', q())).toEqual({
      urlModel: 'g',
      urlStream: true,
      action: RouteActions.streamJsonArray,
    });
    expect(readGeminiCall('g:countTokens', q())).toEqual({
      urlModel: 'g',
      urlStream: false,
      action: RouteActions.countTokens,
    });
  });
  it('refuses unknown actions and a missing action', () => {
    expect(readGeminiCall('g:embedContent', q())).toBeUndefined();
    expect(readGeminiCall('g', q())).toBeUndefined();
  });
  it('takes the already-decoded model as it is (a literal % is a model name, not an escape)', () => {
    expect(readGeminiCall('%:generateContent', q())).toEqual({ urlModel: '%', urlStream: false });
    expect(readGeminiCall('models/a%2Fb%E0:countTokens', q())).toEqual({
      urlModel: 'a%2Fb%E0',
      urlStream: false,
      action: RouteActions.countTokens,
    });
  });
});
