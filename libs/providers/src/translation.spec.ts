import { describe, expect, it, vi } from 'vitest';
import { RouteActions, type BodyLayout, type ClientFormat, type RouteRequest } from '@cpa/contracts';
import { codecFor, layoutOf, ROUTED_MEMBERS, scanTopLevelMembers } from '@cpa/formats';
import { PROVIDER_ADAPTERS } from './families';
import { joinedBody } from './provider-adapter';
import { createStreamRelay } from './stream-relay';
import {
  countFromResponse,
  countTokensRequestBody,
  countTokensResponse,
  estimateInputTokens,
  ESTIMATED_MEDIA_TOKENS,
  planCountTokens,
} from './token-count';
import {
  clientContentType,
  clientFailureBody,
  hasThinkingSuffix,
  planExchange,
  rewriteRequestBody,
  toTokenUsage,
  upstreamFormatFor,
  upstreamRequestBody,
  usageOfBody,
} from './translation';

/** The rewritten body as one Buffer (the functions may return parts, sent back to back). */
const rewrite = (...args: Parameters<typeof rewriteRequestBody>) => joinedBody(rewriteRequestBody(...args));
const upstreamBytes = (...args: Parameters<typeof upstreamRequestBody>) => joinedBody(upstreamRequestBody(...args));

const route = (clientFormat: ClientFormat, stream: boolean, action?: RouteRequest['action']) => ({
  clientFormat,
  stream,
  action,
});

describe('planExchange', () => {
  const claude = PROVIDER_ADAPTERS.claude;
  const compat = PROVIDER_ADAPTERS['openai-compat'];
  const codex = PROVIDER_ADAPTERS.codex;
  const gemini = PROVIDER_ADAPTERS.gemini;

  it('relays same-format requests untouched, streamed or not', () => {
    expect(planExchange(route('claude', false), claude, 'claude-x')).toMatchObject({
      upstream: 'claude',
      translateRequest: false,
      upstreamStream: false,
      response: 'relay-body',
    });
    expect(planExchange(route('claude', true), claude, 'claude-x')).toMatchObject({
      translateRequest: false,
      upstreamStream: true,
      response: 'relay-stream',
    });
  });

  it('serves legacy completions natively from an openai-compat upstream', () => {
    expect(upstreamFormatFor('openai-completions', compat)).toBe('openai-completions');
    expect(planExchange(route('openai-completions', false), compat, 'm')).toMatchObject({
      upstream: 'openai-completions',
      response: 'relay-body',
      translateRequest: false,
    });
    expect(planExchange(route('openai-completions', false), claude, 'm')).toMatchObject({
      upstream: 'claude',
      response: 'translate-body',
      translateRequest: true,
    });
  });

  it('translates across formats, streams event by event', () => {
    expect(planExchange(route('openai-chat', false), claude, 'm')).toMatchObject({
      upstream: 'claude',
      translateRequest: true,
      upstreamStream: false,
      response: 'translate-body',
    });
    expect(planExchange(route('gemini', true), compat, 'm')).toMatchObject({
      upstream: 'openai-chat',
      upstreamStream: true,
      response: 'translate-stream',
    });
  });

  it('aggregates a streaming-only upstream for a non-streaming client, in any format', () => {
    expect(codex.streamingOnly).toBe(true);
    expect(planExchange(route('openai-responses', false), codex, 'gpt-5')).toMatchObject({
      upstreamStream: true,
      response: 'aggregate',
      translateRequest: false,
    });
    expect(planExchange(route('claude', false), codex, 'gpt-5')).toMatchObject({
      upstreamStream: true,
      response: 'aggregate',
      translateRequest: true,
    });
    expect(planExchange(route('claude', true), codex, 'gpt-5')).toMatchObject({ response: 'translate-stream' });
  });

  it('synthesizes a stream when the upstream cannot stream', () => {
    const nonStreaming = { upstreamFormat: 'claude' as const, streamingUnsupported: true };
    expect(planExchange(route('claude', true), nonStreaming, 'c')).toMatchObject({
      upstreamStream: false,
      response: 'synthesize-stream',
      translateRequest: false,
    });
    expect(planExchange(route('openai-chat', true), nonStreaming, 'c')).toMatchObject({
      upstreamStream: false,
      response: 'synthesize-stream',
      translateRequest: true,
    });
    expect(planExchange(route('openai-chat', false), nonStreaming, 'c').response).toBe('translate-body');
  });

  it('routes a same-format model with a thinking suffix through the codec and strips the suffix', () => {
    expect(hasThinkingSuffix('claude-x(high)')).toBe(true);
    expect(hasThinkingSuffix('claude-x(weird)')).toBe(false);
    expect(planExchange(route('claude', false), claude, 'claude-x(8192)')).toMatchObject({
      translateRequest: true,
      response: 'relay-body',
      upstreamModel: 'claude-x',
    });
  });

  it('marks a Gemini client stream without alt=sse as a JSON array', () => {
    expect(planExchange(route('gemini', true, RouteActions.streamJsonArray), claude, 'c').jsonArray).toBe(true);
    expect(planExchange(route('gemini', true), claude, 'c').jsonArray).toBe(false);
    expect(planExchange(route('gemini', true, RouteActions.streamJsonArray), gemini, 'g')).toMatchObject({
      jsonArray: true,
      response: 'relay-stream',
    });
  });
});

describe('clientContentType', () => {
  it('is SSE for streams, JSON for bodies and Gemini JSON-array streams', () => {
    expect(clientContentType({ response: 'translate-stream', jsonArray: false })).toBe('text/event-stream');
    expect(clientContentType({ response: 'synthesize-stream', jsonArray: false })).toBe('text/event-stream');
    expect(clientContentType({ response: 'translate-stream', jsonArray: true })).toBe('application/json');
    expect(clientContentType({ response: 'aggregate', jsonArray: false })).toBe('application/json');
  });
});

describe('rewriteRequestBody', () => {
  it('keeps the exact bytes when neither model nor stream changes', () => {
    const body = Buffer.from('{"model":"m",  "stream":true, "x":{"cache_control":{"type":"ephemeral"}}}');
    expect(rewrite('claude', body, { model: 'm', stream: true })).toBe(body);
  });
  it('turns streaming on for a streaming-only upstream, asking chat streams for usage', () => {
    expect(
      JSON.parse(
        rewrite('openai-responses', Buffer.from('{"model":"a","input":"hi"}'), {
          model: 'b',
          stream: true,
        }).toString(),
      ),
    ).toEqual({ model: 'b', input: 'hi', stream: true });
    expect(JSON.parse(rewrite('openai-chat', Buffer.from('{"model":"a"}'), { stream: true }).toString())).toEqual({
      model: 'a',
      stream: true,
      stream_options: { include_usage: true },
    });
  });
  it('leaves Gemini bodies alone (model and stream live in the URL)', () => {
    const body = Buffer.from('{"contents":[]}');
    expect(rewrite('gemini', body, { model: 'x', stream: true })).toBe(body);
  });

  // A Claude Code turn: cache_control, signatures, key order and spacing must reach the upstream as sent.
  const claudeCodeTurn = (model: string) =>
    `{"model": ${JSON.stringify(model)},"max_tokens":32000,"system":[{"type":"text","text":"You are Claude Code","cache_control":{"type":"ephemeral"}}],` +
    `"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"EqQBCkYIARgCIkD+/==\\u00e9"},` +
    `{"type":"tool_use","id":"toolu_1","name":"Read","input":{"model":"not this one","file_path":"C:\\\\src\\\\a.ts"}}]},` +
    `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"const s = \\"model\\";\\n\\u2192 ü"}]}],  "stream" : false}`;

  it("renames the model without copying the conversation: the parts around the name are the client's bytes", () => {
    const body = Buffer.from(claudeCodeTurn('claude-bench'));
    const parts = rewriteRequestBody('claude', body, { model: 'claude-sonnet-4-6', stream: false });
    expect(Array.isArray(parts)).toBe(true);
    const [before, name, after] = parts as Buffer[];
    expect(before!.buffer).toBe(body.buffer);
    expect(after!.buffer).toBe(body.buffer);
    expect(name!.toString()).toBe('"claude-sonnet-4-6"');
    expect(before!.length + after!.length).toBe(body.length - '"claude-bench"'.length);
  });

  it('renames the model in the bytes: everything else stays byte for byte', () => {
    const body = Buffer.from(claudeCodeTurn('claude-bench'));
    const out = rewrite('claude', body, { model: 'claude-sonnet-4-6', stream: false });
    expect(out.equals(Buffer.from(claudeCodeTurn('claude-sonnet-4-6')))).toBe(true);
    expect(JSON.parse(out.toString())).toEqual({ ...JSON.parse(body.toString()), model: 'claude-sonnet-4-6' });
  });

  describe("with the gateway's scan (RouteRequest.bodyLayout)", () => {
    const layoutFor = (body: Buffer) =>
      JSON.parse(
        JSON.stringify(layoutOf(body, scanTopLevelMembers(body, ROUTED_MEMBERS), ROUTED_MEMBERS)),
      ) as BodyLayout;

    it('writes the same bytes as without it', () => {
      const turn = Buffer.from(claudeCodeTurn('claude-bench'));
      const chat = Buffer.from('{"model":"a","messages":[{"role":"user","content":"hi"}],"stream":false}');
      for (const [format, body, change] of [
        ['claude', turn, { model: 'claude-sonnet-4-6', stream: false }],
        ['claude', turn, { model: 'claude-bench', stream: true }],
        ['openai-chat', chat, { model: 'b', stream: true }],
      ] as const) {
        const expected = rewrite(format, body, change);
        expect(rewrite(format, body, change, layoutFor(body)).equals(expected)).toBe(true);
      }
    });

    it('does not scan the body again (a defect away from the members it changes is not looked at)', () => {
      const valid = Buffer.from('{"model":"a","x":[1,2],"stream":false}');
      const damaged = Buffer.from('{"model":"a","x":[1,,],"stream":false}');
      expect(() => rewrite('claude', damaged, { model: 'b' })).toThrow(/not JSON/);
      expect(rewrite('claude', damaged, { model: 'b' }, layoutFor(valid)).toString()).toBe(
        '{"model":"b","x":[1,,],"stream":false}',
      );
    });

    it('scans after all when the layout is not of these bytes', () => {
      const body = Buffer.from('{"x":[1,2],"stream":false,"model":"a"}');
      const other = layoutFor(Buffer.from('{"model":"a","x":[1,2],"stream":false}'));
      expect(rewrite('claude', body, { model: 'b' }, other).toString()).toBe('{"x":[1,2],"stream":false,"model":"b"}');
    });
  });

  it('neither parses the body nor turns it into a string to rename the model', () => {
    const body = Buffer.from(claudeCodeTurn('claude-bench'));
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    const toString = vi.spyOn(Buffer.prototype, 'toString');
    try {
      rewrite('claude', body, { model: 'claude-sonnet-4-6', stream: true });
      // Only the model value itself is decoded (to compare it) and encoded; never the whole body.
      for (const call of [...parse.mock.calls, ...stringify.mock.calls])
        expect(String(call[0]).length).toBeLessThan(40);
      for (const result of toString.mock.results) expect(String(result.value).length).toBeLessThan(40);
    } finally {
      parse.mockRestore();
      stringify.mockRestore();
      toString.mockRestore();
    }
  });

  it('splices the stream flag in (and usage for chat streams), or adds it when the client sent none', () => {
    const chat = Buffer.from('{"model":"a","messages":[{"role":"user","content":"hi"}],"stream":false}');
    expect(rewrite('openai-chat', chat, { model: 'b', stream: true }).toString()).toBe(
      '{"model":"b","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}',
    );
    const withOptions = Buffer.from('{"model":"a","stream_options":{"include_usage":false},"stream":false}');
    expect(rewrite('openai-chat', withOptions, { stream: true }).toString()).toBe(
      '{"model":"a","stream_options":{"include_usage":true},"stream":true}',
    );
    // A streamed client answered by a non-streaming upstream: the flag goes off, usage options stay as sent.
    expect(rewrite('claude', Buffer.from('{"model":"a","stream":true}'), { stream: false }).toString()).toBe(
      '{"model":"a","stream":false}',
    );
  });

  it('goes through JSON.parse when a member is repeated, so the upstream reads the value this router read', () => {
    const body = Buffer.from('{"model":"alias","x":1,"model":"alias2"}');
    expect(JSON.parse(rewrite('openai-chat', body, { model: 'real' }).toString())).toEqual({
      model: 'real',
      x: 1,
    });
  });

  it('refuses a body that is not a JSON object, as before', () => {
    expect(() => rewrite('claude', Buffer.from('{"model":'), { model: 'x' })).toThrow(/not JSON/);
    expect(() => rewrite('claude', Buffer.from('[1]'), { model: 'x' })).toThrow(/JSON object/);
    expect(() => rewrite('gemini', Buffer.from('{"contents":'), { model: 'x' })).toThrow(/not JSON/);
  });
});

describe('a thinking suffix on a same-format request', () => {
  it('goes through the codec (the body must change), not the byte splice', () => {
    const body = Buffer.from('{"model":"claude-bench","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}');
    const plan = planExchange(route('claude', false), PROVIDER_ADAPTERS.claude, 'claude-sonnet-4-6(8192)');
    expect(plan.translateRequest).toBe(true);
    const out = JSON.parse(
      upstreamBytes(plan, { model: 'claude-bench', stream: false }, body, 'claude-sonnet-4-6(8192)').toString(),
    );
    expect(out).toMatchObject({
      model: 'claude-sonnet-4-6',
      thinking: { type: 'enabled', budget_tokens: 8192 },
      messages: [{ role: 'user' }],
    });
    // Without the suffix the same request keeps its bytes, the model renamed in place.
    const plain = planExchange(route('claude', false), PROVIDER_ADAPTERS.claude, 'claude-sonnet-4-6');
    expect(upstreamBytes(plain, { model: 'claude-bench', stream: false }, body, 'claude-sonnet-4-6').toString()).toBe(
      body.toString().replace('claude-bench', 'claude-sonnet-4-6'),
    );
  });
});

describe('upstreamRequestBody', () => {
  const chat = Buffer.from(
    JSON.stringify({
      model: 'alias',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 50,
    }),
  );

  it('encodes a chat request for Claude with the upstream model', () => {
    const plan = planExchange(route('openai-chat', false), PROVIDER_ADAPTERS.claude, 'claude-x');
    const out = JSON.parse(upstreamBytes(plan, { model: 'alias', stream: false }, chat, 'claude-x').toString());
    expect(out).toMatchObject({
      model: 'claude-x',
      system: 'be brief',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(out.stream).toBeFalsy();
  });

  it('applies a thinking suffix through the codec and asks the streaming-only upstream for a stream', () => {
    const plan = planExchange(route('openai-chat', false), PROVIDER_ADAPTERS.codex, 'gpt-5(high)');
    const out = JSON.parse(upstreamBytes(plan, { model: 'alias', stream: false }, chat, 'gpt-5(high)').toString());
    expect(out).toMatchObject({ model: 'gpt-5', stream: true, reasoning: { effort: 'high' } });
  });

  it('rejects a body that is not a JSON object', () => {
    const plan = planExchange(route('openai-chat', false), PROVIDER_ADAPTERS.claude, 'c');
    expect(() => upstreamBytes(plan, { model: 'c', stream: false }, Buffer.from('[1]'), 'c')).toThrow(/JSON object/);
  });
});

describe('clientFailureBody', () => {
  const claudeError = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
  it('re-expresses an upstream JSON error in the client envelope', () => {
    const out = clientFailureBody('claude', 'openai-chat', 429, claudeError);
    expect(out.translated).toBe(true);
    expect(JSON.parse(out.body)).toMatchObject({ error: { message: 'slow down', type: 'rate_limit_error' } });
    expect(JSON.parse(clientFailureBody('claude', 'gemini', 429, claudeError).body)).toMatchObject({
      error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' },
    });
  });
  it('passes same-format and non-JSON bodies through', () => {
    expect(clientFailureBody('claude', 'claude', 429, claudeError)).toEqual({ body: claudeError, translated: false });
    expect(clientFailureBody('claude', 'gemini', 502, '<html>bad gateway</html>')).toEqual({
      body: '<html>bad gateway</html>',
      translated: false,
    });
  });
});

describe('usage extraction', () => {
  it('reduces canonical usage to the attempt result shape', () => {
    expect(toTokenUsage({ inputTokens: 10, outputTokens: 5, cacheCreationTokens: 3 })).toEqual({
      inputTokens: 10,
      outputTokens: 5,
    });
    expect(toTokenUsage({ inputTokens: 10, outputTokens: 5, cachedTokens: 4, reasoningTokens: 2 })).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      cachedTokens: 4,
      reasoningTokens: 2,
    });
    expect(toTokenUsage(undefined)).toBeUndefined();
  });
  it("reads each format's non-streamed usage block", () => {
    expect(
      usageOfBody(
        'openai-chat',
        Buffer.from(
          JSON.stringify({
            usage: { prompt_tokens: 7, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } },
          }),
        ),
      ),
    ).toMatchObject({ inputTokens: 7, outputTokens: 3, cachedTokens: 2 });
    expect(
      usageOfBody('claude', { usage: { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: 4 } }),
    ).toMatchObject({ inputTokens: 9, outputTokens: 2, cachedTokens: 4 });
    expect(
      usageOfBody('gemini', { usageMetadata: { promptTokenCount: 6, candidatesTokenCount: 2, thoughtsTokenCount: 1 } }),
    ).toMatchObject({ inputTokens: 6, reasoningTokens: 1 });
    expect(
      usageOfBody('openai-responses', {
        usage: { input_tokens: 8, output_tokens: 4, output_tokens_details: { reasoning_tokens: 1 } },
      }),
    ).toMatchObject({ inputTokens: 8, outputTokens: 4, reasoningTokens: 1 });
    expect(usageOfBody('openai-chat', Buffer.from('not json'))).toBeUndefined();
    // Only the top-level usage counts, whatever the content says.
    const nested = {
      choices: [{ message: { content: '"usage": {"prompt_tokens": 1}', usage: { prompt_tokens: 50 } } }],
      usage: { prompt_tokens: 7, completion_tokens: 3 },
    };
    expect(usageOfBody('openai-chat', Buffer.from(JSON.stringify(nested)))).toEqual({
      inputTokens: 7,
      outputTokens: 3,
    });
    expect(
      usageOfBody(
        'openai-responses',
        Buffer.from(JSON.stringify({ output: [], usage: { input_tokens: 8, output_tokens: 4 } })),
      ),
    ).toMatchObject({ inputTokens: 8, outputTokens: 4 });
    expect(
      usageOfBody(
        'gemini',
        Buffer.from(
          JSON.stringify([{ candidates: [] }, { usageMetadata: { promptTokenCount: 6, candidatesTokenCount: 2 } }]),
        ),
      ),
    ).toMatchObject({ inputTokens: 6, outputTokens: 2 });
  });

  it('parses only the usage members of an object body, never the whole completion', () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'chatcmpl-1',
        choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(50_000) } }],
        usage: { prompt_tokens: 11, completion_tokens: 6 },
      }),
    );
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(usageOfBody('openai-chat', body)).toEqual({ inputTokens: 11, outputTokens: 6 });
      const parsedBytes = parse.mock.calls.reduce((sum, [text]) => sum + String(text).length, 0);
      expect(parsedBytes).toBeLessThan(100);
    } finally {
      parse.mockRestore();
    }
  });

  it('reads usage from a body whose content JSON.parse would refuse, and none from a body that is not JSON', () => {
    // A raw control character inside a string: the scan does not judge string contents.
    const body = Buffer.from(
      '{"choices":[{"message":{"content":"a' +
        String.fromCharCode(1) +
        'b"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}',
    );
    expect(() => JSON.parse(body.toString())).toThrow();
    expect(usageOfBody('openai-chat', body)).toEqual({ inputTokens: 3, outputTokens: 1 });
    expect(usageOfBody('openai-chat', Buffer.from('{"usage":{"prompt_tokens":3}'))).toBeUndefined();
    expect(usageOfBody('claude', Buffer.from('{"content":[]}'))).toBeUndefined();
  });
});

const claudeStream = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel',
  'lo"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

describe('createStreamRelay', () => {
  it('passes a same-format stream through byte for byte and taps its usage', () => {
    const relay = createStreamRelay({ client: 'claude', upstream: 'claude', jsonArray: false }, 'alias');
    const out = claudeStream.map((c) => relay.push(Buffer.from(c)).toString()).join('') + relay.end().toString();
    expect(out).toBe(claudeStream.join(''));
    expect(relay.usage()).toEqual({ inputTokens: 12, outputTokens: 4 });
  });

  it('translates chunk by chunk, holding only incomplete events', () => {
    const relay = createStreamRelay({ client: 'openai-chat', upstream: 'claude', jsonArray: false }, 'alias');
    const outputs = claudeStream.map((c) => relay.push(Buffer.from(c)).toString());
    expect(outputs[0]).toMatch(/^data: /);
    expect(outputs[2]).toBe(''); // half an event: nothing yet
    expect(outputs[3]).toContain('"content":"Hello"');
    const all = outputs.join('') + relay.end().toString();
    const chunks = all
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    expect(chunks.every((c) => c.model === 'alias')).toBe(true);
    expect(chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop')).toBe(true);
    expect(all.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(relay.usage()).toEqual({ inputTokens: 12, outputTokens: 4 });
  });

  it("ends a broken translated stream with the client format's error event", () => {
    const relay = createStreamRelay({ client: 'claude', upstream: 'openai-chat', jsonArray: false }, 'alias');
    relay.push(
      Buffer.from(
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}\n\n',
      ),
    );
    const tail = relay.error(502, 'upstream stream broke').toString();
    expect(tail).toContain('event: error');
    expect(tail).toContain('upstream stream broke');
  });

  it('writes a Gemini JSON-array stream when the client asked without alt=sse', () => {
    const relay = createStreamRelay({ client: 'gemini', upstream: 'claude', jsonArray: true }, 'g');
    const all = claudeStream.map((c) => relay.push(Buffer.from(c)).toString()).join('') + relay.end().toString();
    const parsed = JSON.parse(all) as Array<{ candidates?: Array<{ content?: { parts?: Array<{ text?: string }> } }> }>;
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed.map((c) => c.candidates?.[0]?.content?.parts?.map((p) => p.text ?? '').join('') ?? '').join('')).toBe(
      'Hello',
    );
  });
});

describe('count tokens', () => {
  it('relays same-format counting, translates to the other counting format, estimates otherwise', () => {
    expect(planCountTokens('claude', PROVIDER_ADAPTERS.claude)).toEqual({ mode: 'relay', upstream: 'claude' });
    expect(planCountTokens('gemini', PROVIDER_ADAPTERS.gemini)).toEqual({ mode: 'relay', upstream: 'gemini' });
    expect(planCountTokens('claude', PROVIDER_ADAPTERS.gemini)).toEqual({ mode: 'translate', upstream: 'gemini' });
    expect(planCountTokens('gemini', PROVIDER_ADAPTERS.claude)).toEqual({ mode: 'translate', upstream: 'claude' });
    expect(planCountTokens('claude', PROVIDER_ADAPTERS.codex)).toEqual({
      mode: 'estimate',
      upstream: 'openai-responses',
    });
    expect(planCountTokens('gemini', PROVIDER_ADAPTERS['openai-compat'])).toEqual({
      mode: 'estimate',
      upstream: 'openai-chat',
    });
  });

  const canonical = codecFor('claude').decodeRequest({
    model: 'c',
    max_tokens: 100,
    system: 'You are terse.',
    tools: [
      {
        name: 'get_weather',
        description: 'Weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather in Paris?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        ],
      },
    ],
  });

  it('wraps a Gemini count in a full generateContentRequest, keeps only count fields for Claude', () => {
    const g = countTokensRequestBody('gemini', canonical, 'gemini-2.5-pro(high)') as {
      generateContentRequest: Record<string, unknown>;
    };
    expect(g.generateContentRequest).toMatchObject({
      model: 'models/gemini-2.5-pro',
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
    });
    expect(g.generateContentRequest.contents).toHaveLength(1);
    const c = countTokensRequestBody(
      'claude',
      codecFor('gemini').decodeRequest({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, { model: 'g' }),
      'claude-x',
    );
    expect(Object.keys(c).sort()).toEqual(['messages', 'model']);
  });

  it('reads and writes the count in each shape', () => {
    expect(countFromResponse('gemini', { totalTokens: 9 })).toBe(9);
    expect(countFromResponse('claude', { input_tokens: 11 })).toBe(11);
    expect(countFromResponse('claude', {})).toBeUndefined();
    expect(countTokensResponse('gemini', 5)).toEqual({ totalTokens: 5 });
    expect(countTokensResponse('claude', 5)).toEqual({ input_tokens: 5 });
  });

  it('estimates from characters of text, tools and a flat charge per image', () => {
    const text = 'You are terse.'.length + 'What is the weather in Paris?'.length;
    const tool =
      'get_weather'.length +
      'Weather'.length +
      JSON.stringify({ type: 'object', properties: { city: { type: 'string' } } }).length;
    expect(estimateInputTokens(canonical)).toBe(Math.ceil((text + tool) / 4) + ESTIMATED_MEDIA_TOKENS);
    expect(estimateInputTokens({ model: 'm', stream: false, messages: [] })).toBe(0);
  });
});
