import { describe, expect, it } from 'vitest';
import {
  applyModelSuffix,
  cleanSchemaForGemini,
  codecFor,
  createStreamTranslator,
  createStreamUsageTap,
  encodeErrorBody,
  inspectRequest,
  FramingError,
  JsonArrayFramer,
  MAX_EVENT_CHARS,
  parseGeminiPath,
  parseModelSuffix,
  SseFramer,
  translateErrorBody,
  usageFromResponse,
  type Frame,
} from './index';
import { fixture, json } from './__fixtures__/load';

describe('thinking suffix', () => {
  it.each([
    ['gpt-5(high)', { baseModel: 'gpt-5', effort: 'high' }],
    ['gemini-2.5-pro(8192)', { baseModel: 'gemini-2.5-pro', budgetTokens: 8192 }],
    ['gemini-2.5-flash(-1)', { baseModel: 'gemini-2.5-flash', budgetTokens: -1 }],
    ['claude-opus-4(NONE)', { baseModel: 'claude-opus-4', effort: 'none' }],
    ['model(weird)', { baseModel: 'model(weird)' }],
    ['plain', { baseModel: 'plain' }],
  ])('parses %s', (model, expected) => {
    expect(parseModelSuffix(model)).toEqual(expected);
  });

  it('overrides the body reasoning and strips the suffix', () => {
    const req = codecFor('openai-chat').decodeRequest({ model: 'o3', messages: [], reasoning_effort: 'low' });
    expect(applyModelSuffix(req, 'o3(16000)')).toMatchObject({ model: 'o3', reasoning: { budgetTokens: 16000 } });
  });

  it.each([
    ['openai-chat', 'gpt-5(minimal)', (b: any) => b.reasoning_effort, 'minimal'],
    ['openai-responses', 'gpt-5(8192)', (b: any) => b.reasoning.effort, 'medium'],
    ['claude', 'claude-sonnet-4-5(low)', (b: any) => b.thinking, { type: 'enabled', budget_tokens: 1024 }],
    ['claude', 'claude-sonnet-4-5(none)', (b: any) => b.thinking, { type: 'disabled' }],
    ['gemini', 'gemini-2.5-pro(high)', (b: any) => b.generationConfig.thinkingConfig, { thinkingBudget: 24576 }],
    ['gemini', 'gemini-2.5-flash(auto)', (b: any) => b.generationConfig.thinkingConfig, { thinkingBudget: -1 }],
    [
      'gemini',
      'gemini-3-flash-preview(none)',
      (b: any) => b.generationConfig.thinkingConfig,
      { thinkingLevel: 'minimal' },
    ],
  ] as const)('%s %s', (format, model, pick, expected) => {
    const req = codecFor('openai-chat').decodeRequest({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    expect(pick(codecFor(format).encodeRequest(req, { model }))).toEqual(expected);
  });
});

describe('cleanSchemaForGemini', () => {
  it('inlines refs, merges allOf, rewrites nullable and unsupported keywords', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      $defs: { Unit: { type: 'string', enum: ['c', 'f'] } },
      properties: {
        unit: { $ref: '#/$defs/Unit' },
        note: { type: ['string', 'null'], format: 'uri', default: 'x' },
        mode: { const: 'fast' },
        choice: { oneOf: [{ type: 'integer', exclusiveMinimum: 0 }, { type: 'null' }] },
        both: {
          allOf: [
            { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
            { properties: { b: { type: 'number' } } },
          ],
        },
        list: { type: 'array', items: { type: 'object', patternProperties: { '.*': {} } }, minItems: 1 },
      },
      required: ['unit', 'ghost'],
    };
    expect(cleanSchemaForGemini(schema)).toEqual({
      type: 'object',
      properties: {
        unit: { type: 'string', enum: ['c', 'f'] },
        note: { type: 'string', nullable: true, default: 'x' },
        mode: { type: 'string', enum: ['fast'] },
        choice: { type: 'integer', nullable: true },
        both: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a'] },
        list: { type: 'array', items: { type: 'object' }, minItems: 1 },
      },
      required: ['unit'],
    });
  });

  it('stops on recursive refs instead of looping', () => {
    const schema = { type: 'object', properties: { child: { $ref: '#' } }, definitions: {} };
    expect(
      cleanSchemaForGemini({
        $defs: { N: { type: 'object', properties: { next: { $ref: '#/$defs/N' } } } },
        $ref: '#/$defs/N',
      }),
    ).toMatchObject({ type: 'object' });
    expect(cleanSchemaForGemini(schema).properties.child).toEqual({ type: 'object' });
  });
});

describe('framing', () => {
  const collect = (framer: SseFramer | JsonArrayFramer, chunks: string[]) => {
    const frames: Frame[] = [];
    for (const c of chunks) framer.push(c, (f) => frames.push(f));
    framer.end((f) => frames.push(f));
    return frames;
  };

  it('handles CRLF, comments, multi-line data and a missing final blank line', () => {
    const frames = collect(new SseFramer(), [
      ': keep-alive\r\nevent: a\r\ndata: {"x":\r\ndata: 1}\r\n\r',
      '\ndata: last',
    ]);
    expect(frames).toEqual([
      { event: 'a', data: '{"x":\n1}' },
      { event: undefined, data: 'last' },
    ]);
  });

  it('splits a JSON array with braces and brackets inside strings', () => {
    const body = '[{"t":"a}]\\"{["},\n{"n":[1,{"m":2}]}]';
    const frames = collect(new JsonArrayFramer(), body.split(''));
    expect(frames.map((f) => JSON.parse(f.data))).toEqual([{ t: 'a}]"{[' }, { n: [1, { m: 2 }] }]);
  });

  it('refuses to hold an event larger than MAX_EVENT_CHARS (an upstream line that never ends)', () => {
    const framer = new SseFramer();
    const piece = 'x'.repeat(1024 * 1024);
    framer.push('data: ', () => undefined);
    expect(() => {
      for (let i = 0; i <= MAX_EVENT_CHARS / piece.length; i++) framer.push(piece, () => undefined);
    }).toThrow(FramingError);
    // Many lines of one event count too.
    const lines = new SseFramer();
    expect(() => {
      for (let i = 0; i <= MAX_EVENT_CHARS / piece.length; i++) lines.push(`data: ${piece}\n`, () => undefined);
    }).toThrow(/exceeds/);
  });
});

describe('inspectRequest', () => {
  it('reads model and stream from the body', () => {
    expect(inspectRequest('openai-chat', { model: 'gpt-4o', stream: true })).toEqual({ model: 'gpt-4o', stream: true });
    expect(inspectRequest('claude', { model: 'claude-sonnet-4-5' })).toEqual({
      model: 'claude-sonnet-4-5',
      stream: false,
    });
  });

  it('reads Gemini model and stream from the URL', () => {
    expect(
      inspectRequest('gemini', {}, { path: '/v1beta/models/gemini-2.5-pro(8192):streamGenerateContent?alt=sse' }),
    ).toEqual({ model: 'gemini-2.5-pro(8192)', stream: true });
    expect(parseGeminiPath('/v1beta/models/gemini-2.5-flash:streamGenerateContent')).toEqual({
      model: 'gemini-2.5-flash',
      action: 'streamGenerateContent',
      stream: true,
      sse: false,
    });
    expect(parseGeminiPath('/v1beta/models/gemini-2.5-flash:countTokens')?.stream).toBe(false);
    expect(parseGeminiPath('/v1beta/models')).toBeUndefined();
  });
});

describe('usage', () => {
  it.each([
    ['openai-chat', 'response.tools.json', { inputTokens: 82, outputTokens: 17, cachedTokens: 0, reasoningTokens: 0 }],
    [
      'openai-responses',
      'response.text.json',
      { inputTokens: 328, outputTokens: 52, cachedTokens: 128, reasoningTokens: 0 },
    ],
    ['gemini', 'response.tools.json', { inputTokens: 60, outputTokens: 75, reasoningTokens: 60 }],
    ['openai-completions', 'response.json', { inputTokens: 5, outputTokens: 7 }],
  ] as const)('from a %s response', (format, name, expected) => {
    expect(usageFromResponse(format, json(format, name))).toEqual(expected);
  });

  it.each([
    ['claude', { inputTokens: 572, outputTokens: 89, cachedTokens: 100, cacheCreationTokens: 0 }],
    ['openai-chat', { inputTokens: 82, outputTokens: 17, cachedTokens: 0, reasoningTokens: 0 }],
    ['openai-responses', { inputTokens: 572, outputTokens: 89, cachedTokens: 100, reasoningTokens: 40 }],
    ['gemini', { inputTokens: 572, outputTokens: 89, cachedTokens: 100, reasoningTokens: 40 }],
  ] as const)('from a pass-through %s stream', (format, expected) => {
    const tap = createStreamUsageTap(format);
    const body = Buffer.from(fixture(format, 'stream.tools.sse'));
    for (let i = 0; i < body.length; i += 13) tap.push(body.subarray(i, i + 13));
    expect(tap.end()).toEqual(expected);
  });
});

describe('errors', () => {
  it('encodes in each client envelope', () => {
    expect(encodeErrorBody('claude', { status: 529, message: 'busy' })).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'busy' },
    });
    expect(encodeErrorBody('gemini', { status: 429, message: 'slow down' })).toEqual({
      error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' },
    });
    expect(encodeErrorBody('openai-responses', { status: 401, message: 'no' })).toEqual({
      error: { message: 'no', type: 'authentication_error', code: 'invalid_api_key' },
    });
  });

  it('re-expresses an upstream error for another client format', () => {
    const google = { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } };
    expect(translateErrorBody('gemini', 'claude', 429, google)).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Quota exceeded' },
    });
    const anthropic = JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } });
    expect(translateErrorBody('claude', 'openai-chat', 400, anthropic)).toEqual({
      error: { message: 'bad', type: 'invalid_request_error', code: 'invalid_request' },
    });
    expect(translateErrorBody('openai-chat', 'gemini', 502, 'Bad Gateway')).toEqual({
      error: { code: 502, message: 'Bad Gateway', status: 'UNAVAILABLE' },
    });
  });
});

describe('stream translator', () => {
  it('emits client events as soon as each upstream event completes', () => {
    const t = createStreamTranslator('claude', 'openai-chat', { model: 'my-alias' });
    const events = fixture('claude', 'stream.text.sse')
      .split('\n\n')
      .filter(Boolean)
      .map((e) => e + '\n\n');
    expect(t.push(events[0])).toContain('"role":"assistant"');
    expect(t.push(events[1])).toBe('');
    expect(t.push(events[2])).toContain('"content":"It is 15°C "');
    expect(t.push(events[2])).toContain('"model":"my-alias"');
  });

  it('ends with the client error event when the executor aborts', () => {
    const t = createStreamTranslator('openai-chat', 'claude');
    t.push(fixture('openai-chat', 'stream.text.sse').split('\n\n').slice(0, 2).join('\n\n') + '\n\n');
    expect(t.error({ status: 504, message: 'upstream timed out' })).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"upstream timed out"}}\n\n',
    );
    expect(t.end()).toBe('');
  });

  it('exposes upstream usage while translating', () => {
    const t = createStreamTranslator('gemini', 'openai-responses');
    t.push(fixture('gemini', 'stream.tools.sse'));
    t.end();
    expect(t.usage).toEqual({ inputTokens: 572, outputTokens: 89, cachedTokens: 100, reasoningTokens: 40 });
  });
});
