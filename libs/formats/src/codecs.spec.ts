import { describe, expect, it } from 'vitest';
import type { ClientFormat } from '@cpa/contracts';
import { aggregateStream, codecFor } from './index';
import { fixture, json } from './__fixtures__/load';

const opts = (format: ClientFormat, body: any) => ({
  model: format === 'gemini' ? 'gemini-2.5-pro' : body.model,
  stream: body.stream,
});

describe.each([
  ['claude', 'request.json'],
  ['claude', 'request.document.json'],
  ['openai-chat', 'request.json'],
  ['openai-chat', 'request.reasoning.json'],
  ['openai-completions', 'request.json'],
  ['openai-responses', 'request.json'],
  ['gemini', 'request.json'],
] as const)('%s %s', (format, name) => {
  it('decodes to canonical and encodes back to the same body', () => {
    const body = json(format, name);
    const codec = codecFor(format);
    const canonical = codec.decodeRequest(body, { model: 'gemini-2.5-pro', stream: false });
    expect(codec.encodeRequest(canonical, opts(format, body))).toEqual(body);
  });
});

/** Responses message item ids are generated on encode; everything else must survive. */
function withoutMessageIds(body: any): any {
  if (!Array.isArray(body.output)) return body;
  return { ...body, output: body.output.map((i: any) => (i.type === 'message' ? { ...i, id: undefined } : i)) };
}

describe.each([
  ['claude', 'response.text.json'],
  ['claude', 'response.tools.json'],
  ['openai-chat', 'response.text.json'],
  ['openai-chat', 'response.tools.json'],
  ['openai-completions', 'response.json'],
  ['openai-responses', 'response.text.json'],
  ['openai-responses', 'response.tools.json'],
  ['gemini', 'response.text.json'],
  ['gemini', 'response.tools.json'],
] as const)('%s %s', (format, name) => {
  it('round-trips the response body', () => {
    const body = json(format, name);
    const codec = codecFor(format);
    expect(withoutMessageIds(codec.encodeResponse(codec.decodeResponse(body)))).toEqual(withoutMessageIds(body));
  });
});

describe('claude codec', () => {
  it('decodes the request into the canonical model', () => {
    const req = codecFor('claude').decodeRequest(json('claude', 'request.json'));
    expect(req.system).toEqual([{ type: 'text', text: 'You are a weather bot.', cacheControl: { type: 'ephemeral' } }]);
    expect(req.reasoning).toEqual({ budgetTokens: 8000, includeThoughts: true });
    expect(req.messages[1].content).toEqual([
      {
        type: 'reasoning',
        text: 'I should call the weather tool.',
        signature: { format: 'claude', value: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' },
      },
      { type: 'text', text: 'Let me check.' },
      {
        type: 'tool_call',
        id: 'toolu_01A09q90qw90lq917835lq9',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
    ]);
    expect(req.messages[2].content).toEqual([
      {
        type: 'tool_result',
        callId: 'toolu_01A09q90qw90lq917835lq9',
        content: [{ type: 'text', text: '15 degrees, cloudy' }],
      },
    ]);
  });

  it('reads usage with cache reads counted as input', () => {
    expect(codecFor('claude').usageOf(json('claude', 'response.tools.json'))).toEqual({
      inputTokens: 572,
      outputTokens: 91,
      cachedTokens: 100,
      cacheCreationTokens: 0,
    });
  });

  it('aggregates the thinking/tool stream transcript', () => {
    const res = aggregateStream('claude', fixture('claude', 'stream.tools.sse'));
    expect(res.content).toEqual([
      {
        type: 'reasoning',
        text: 'The user wants weather in Paris.',
        signature: { format: 'claude', value: 'EqQBCgIYAhIMsig' },
      },
      { type: 'text', text: 'Let me check — ☁️.' },
      { type: 'tool_call', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', arguments: '{"city": "Paris"}' },
      { type: 'tool_call', id: 'toolu_02Lyon', name: 'get_weather', arguments: '{"city":"Lyon"}' },
    ]);
    expect(res.stopReason).toBe('tool_use');
    expect(res.usage).toEqual({ inputTokens: 572, outputTokens: 89, cachedTokens: 100, cacheCreationTokens: 0 });
  });

  it('keeps thinking constraints when encoding: budget below max_tokens, no temperature/top_k', () => {
    const codec = codecFor('claude');
    const canonical = codecFor('openai-chat').decodeRequest({
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1000,
      temperature: 0.2,
      top_k: 3,
    });
    const body = codec.encodeRequest(canonical, { model: 'claude-sonnet-4-5(high)' });
    expect(body.model).toBe('claude-sonnet-4-5');
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 24576 });
    expect(body.max_tokens).toBeGreaterThan(24576);
    expect(body.temperature).toBeUndefined();
    expect(body.top_k).toBeUndefined();
  });

  it('drops foreign thinking signatures and sanitizes tool ids', () => {
    const canonical = codecFor('openai-responses').decodeRequest(json('openai-responses', 'request.json'));
    canonical.messages[1].content.push({ type: 'tool_call', id: 'call.x:1', name: 'f', arguments: '' });
    const body = codecFor('claude').encodeRequest(canonical, { model: 'claude-sonnet-4-5' });
    const assistant = body.messages[1].content;
    expect(assistant.some((b: any) => b.type === 'thinking')).toBe(false);
    expect(assistant.at(-1)).toEqual({ type: 'tool_use', id: 'call_x_1', name: 'f', input: {} });
  });
});

describe('openai chat codec', () => {
  it('groups consecutive tool messages into one user turn', () => {
    const req = codecFor('openai-chat').decodeRequest(json('openai-chat', 'request.json'));
    expect(req.messages[2].content.map((p) => p.type === 'tool_result' && p.callId)).toEqual([
      'call_abc123',
      'call_def456',
    ]);
    expect(req.messages[0].content[1]).toEqual({
      type: 'image',
      detail: 'high',
      source: { kind: 'base64', mediaType: 'image/png', data: expect.stringMatching(/^iVBOR/) },
    });
  });

  it('aggregates a reasoning_content stream and maps length to max_tokens', () => {
    const res = aggregateStream('openai-chat', fixture('openai-chat', 'stream.thinking.sse'));
    expect(res.content).toEqual([
      { type: 'reasoning', text: 'Primes are 2, 3, 5.' },
      { type: 'text', text: '[2,3,5]' },
    ]);
    expect(res.stopReason).toBe('max_tokens');
  });

  it('legacy completions stream aggregates to text', () => {
    const res = aggregateStream('openai-completions', fixture('openai-completions', 'stream.text.sse'));
    expect(res.content).toEqual([{ type: 'text', text: 'This is a test' }]);
    expect(res.usage).toEqual({ inputTokens: 5, outputTokens: 3 });
  });
});

describe('openai responses codec', () => {
  it('keeps encrypted reasoning as a responses-owned signature', () => {
    const req = codecFor('openai-responses').decodeRequest(json('openai-responses', 'request.json'));
    expect(req.system).toEqual([{ type: 'text', text: 'You are a weather bot.' }]);
    expect(req.messages[1].content[0]).toEqual({
      type: 'reasoning',
      id: 'rs_68af4c',
      text: 'I should call the weather tool.',
      signature: { format: 'openai-responses', value: 'gAAAAABor2encrypted' },
    });
    expect(req.reasoning).toEqual({ effort: 'medium', summary: 'auto', includeThoughts: true });
  });

  it('aggregates the typed event stream', () => {
    const res = aggregateStream('openai-responses', fixture('openai-responses', 'stream.tools.sse'));
    expect(res.content[0]).toEqual({
      type: 'reasoning',
      text: 'The user wants weather in Paris.',
      id: 'rs_1',
      signature: { format: 'openai-responses', value: 'gAAAAABenc' },
    });
    expect(res.content.slice(1)).toEqual([
      { type: 'text', text: 'Let me check — ☁️.' },
      { type: 'tool_call', id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', id: 'call_def456', name: 'get_weather', arguments: '{"city":"Lyon"}' },
    ]);
    expect(res.stopReason).toBe('tool_use');
    expect(res.usage).toEqual({ inputTokens: 572, outputTokens: 89, cachedTokens: 100, reasoningTokens: 40 });
  });

  it('maps incomplete responses to max_tokens', () => {
    const res = codecFor('openai-responses').decodeResponse({
      ...json('openai-responses', 'response.text.json'),
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
    });
    expect(res.stopReason).toBe('max_tokens');
  });
});

describe('gemini codec', () => {
  it('synthesizes deterministic call ids and pairs responses by name in order', () => {
    const codec = codecFor('gemini');
    const a = codec.decodeRequest(json('gemini', 'request.json'), { model: 'gemini-2.5-pro', stream: true });
    const b = codec.decodeRequest(json('gemini', 'request.json'), { model: 'gemini-2.5-pro', stream: true });
    expect(a).toEqual(b);
    expect(a.model).toBe('gemini-2.5-pro');
    expect(a.stream).toBe(true);
    const calls = a.messages[1].content.filter((p) => p.type === 'tool_call').map((p) => (p as { id: string }).id);
    const results = a.messages[2].content.map((p) => (p as { callId: string }).callId);
    expect(new Set(calls).size).toBe(2);
    expect(results).toEqual(calls);
    expect(a.messages[2].content[1]).toMatchObject({
      content: [{ type: 'text', text: '{"temperature":18,"sky":"sunny"}' }],
    });
  });

  it('names functionResponses from call ids when encoding other formats', () => {
    const canonical = codecFor('openai-chat').decodeRequest(json('openai-chat', 'request.json'));
    const body = codecFor('gemini').encodeRequest(canonical, { model: 'gemini-2.5-pro' });
    expect(body.contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { result: '15 degrees, cloudy' } } },
        { functionResponse: { name: 'get_weather', response: { result: '18 degrees, sunny' } } },
      ],
    });
    expect(body.contents[1].parts[1]).toEqual({
      functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } },
    });
  });

  it('adds the documented placeholder signature on Gemini 3 function calls without one', () => {
    const canonical = codecFor('openai-chat').decodeRequest(json('openai-chat', 'request.json'));
    const body = codecFor('gemini').encodeRequest(canonical, { model: 'gemini-3-pro-preview(high)' });
    expect(body.contents[1].parts[1].thoughtSignature).toBe('skip_thought_signature_validator');
    expect(body.contents[1].parts[2].thoughtSignature).toBeUndefined();
    expect(body.generationConfig.thinkingConfig).toEqual({ thinkingLevel: 'high' });
  });

  it('reads both the SSE and the JSON-array stream', () => {
    const sse = aggregateStream('gemini', fixture('gemini', 'stream.text.sse'));
    const arr = aggregateStream('gemini', fixture('gemini', 'stream.text.json'));
    expect(arr).toEqual(sse);
    expect(sse.content).toEqual([{ type: 'text', text: 'It is 15°C and cloudy in Paris.' }]);
    expect(sse.usage).toEqual({ inputTokens: 25, outputTokens: 12 });
  });

  it('counts thoughts as output and reports STOP with calls as tool_use', () => {
    const res = aggregateStream('gemini', fixture('gemini', 'stream.tools.sse'));
    expect(res.usage).toEqual({ inputTokens: 572, outputTokens: 89, cachedTokens: 100, reasoningTokens: 40 });
    expect(res.stopReason).toBe('tool_use');
    expect(res.content[2]).toEqual({
      type: 'tool_call',
      id: 'call_mAitaLmkHPPlz7IPvtfUqQ4_0',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      signature: { format: 'gemini', value: 'CiQBcsjafCallSig' },
    });
  });
});
