import { describe, expect, it } from 'vitest';
import type { ClientFormat } from '@cpa/contracts';
import type { CanonicalRequest, ContentPart } from './canonical';
import { aggregateStream, codecFor, createStreamTranslator, streamFromResponse, UpstreamStreamError } from './index';
import { fixture, json, MAIN_FORMATS, meaning } from './__fixtures__/load';

const PAIRS = MAIN_FORMATS.flatMap((from) => MAIN_FORMATS.filter((to) => to !== from).map((to) => [from, to] as const));
const REQUESTS: Record<(typeof MAIN_FORMATS)[number], string> = {
  'openai-chat': 'request.json',
  'openai-responses': 'request.json',
  claude: 'request.json',
  gemini: 'request.json',
};
const MODEL: Record<ClientFormat, string> = {
  'openai-chat': 'gpt-4o',
  'openai-completions': 'gpt-3.5-turbo-instruct',
  'openai-responses': 'gpt-5',
  claude: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-pro',
};
/** Reasoning text travels back only where the target keeps it with a verifiable signature. */
const keepsForeignReasoning = (_to: ClientFormat) => false;

function decode(format: ClientFormat, body: unknown): CanonicalRequest {
  return codecFor(format).decodeRequest(body, { model: MODEL[format], stream: false });
}

/** What a request means, independent of wire layout and of ids the target had to synthesize. */
function requestMeaning(req: CanonicalRequest, from: ClientFormat, to: ClientFormat) {
  const idMap = new Map<string, string>();
  const mapId = (id: string) => {
    if (!idMap.has(id)) idMap.set(id, `#${idMap.size}`);
    return idMap.get(id)!;
  };
  const part = (p: ContentPart): unknown => {
    switch (p.type) {
      case 'text':
        return { text: p.text };
      case 'image':
        return { image: p.source.kind === 'base64' ? p.source.data : p.source };
      case 'document':
        return { document: p.source };
      case 'reasoning':
        return keepsForeignReasoning(to) || from === to ? { reasoning: p.text } : undefined;
      case 'tool_call':
        return { call: mapId(p.id), name: p.name, args: JSON.parse(p.arguments || '{}') };
      case 'tool_result':
        return { result: mapId(p.callId), text: p.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
    }
  };
  // Consecutive same-role turns are merged by some formats; compare the flattened sequence of roles and parts.
  const flat: unknown[] = [];
  for (const m of req.messages)
    for (const p of m.content) {
      const v = part(p);
      if (v !== undefined) flat.push({ role: m.role, ...(v as object) });
    }
  return {
    system: req.system?.map((s) => s.text).join('\n\n'),
    parts: flat,
    tools: req.tools?.map((t) => ({
      name: t.name,
      description: t.description,
      props: Object.keys((t.parameters?.properties as object) ?? {}),
    })),
    toolChoice: req.toolChoice,
    maxTokens: req.maxTokens,
    stop: req.stop,
  };
}

describe.each(PAIRS)('request %s -> %s', (from, to) => {
  it('carries system, text, images, tool calls and results', () => {
    const original = decode(from, json(from, REQUESTS[from]));
    const wire = codecFor(to).encodeRequest(original, { model: MODEL[to] });
    const back = decode(to, JSON.parse(JSON.stringify(wire)));
    const expected = requestMeaning(original, from, to);
    const actual = requestMeaning(back, from, to);
    // Claude raises max_tokens above the thinking budget on purpose.
    if (to === 'claude' && original.reasoning) {
      delete (expected as any).maxTokens;
      delete (actual as any).maxTokens;
    }
    // Only Claude, chat and Gemini know stop sequences; Responses has none.
    if (to === 'openai-responses') {
      delete (expected as any).stop;
      delete (actual as any).stop;
    }
    expect(actual).toEqual(expected);
  });

  it('keeps the reasoning request (effort or budget)', () => {
    const original = decode(from, json(from, REQUESTS[from]));
    const back = decode(to, codecFor(to).encodeRequest(original, { model: `${MODEL[to]}(high)` }));
    // The suffix wins: each format states "high" its own way (effort, budget 24576).
    const r = back.reasoning!;
    expect(r.effort === 'high' || r.budgetTokens === 24576).toBe(true);
  });
});

const STREAMS = ['stream.text.sse', 'stream.tools.sse'] as const;
/** Awkward chunkings: whole body, byte-by-byte, and fixed odd-sized slices. */
const SPLITS: Array<[string, (b: Buffer) => Buffer[]]> = [
  ['whole', (b) => [b]],
  ['bytes', (b) => Array.from(b, (_, i) => b.subarray(i, i + 1))],
  ['7-byte', (b) => Array.from({ length: Math.ceil(b.length / 7) }, (_, i) => b.subarray(i * 7, i * 7 + 7))],
];

function translate(
  from: ClientFormat,
  to: ClientFormat,
  body: string,
  split: (b: Buffer) => Buffer[],
  opts = {},
): string {
  const t = createStreamTranslator(from, to, opts);
  let out = '';
  for (const chunk of split(Buffer.from(body, 'utf8'))) out += t.push(chunk);
  return out + t.end();
}

describe.each(PAIRS)('stream %s -> %s', (from, to) => {
  it.each(STREAMS.flatMap((s) => SPLITS.map(([name, fn]) => [s, name, fn] as const)))(
    '%s split %s keeps its meaning',
    (stream, _name, split) => {
      const body = fixture(from, stream);
      const upstream = aggregateStream(from, body);
      const client = aggregateStream(to, translate(from, to, body, split as (b: Buffer) => Buffer[]));
      const opts = {
        cached: to !== 'claude' || from !== 'claude' ? true : true,
        reasoningTokens: to !== 'claude' && from !== 'claude',
      };
      expect(meaning(client, opts)).toEqual(meaning(upstream, opts));
    },
  );

  it('ends a failing stream with the client format error event', () => {
    const out = translate(from, to, fixture(from, 'stream.error.sse'), (b) => [b]);
    expect(() => aggregateStream(to, out)).toThrow(UpstreamStreamError);
    try {
      aggregateStream(to, out);
    } catch (e) {
      expect((e as UpstreamStreamError).error.message).toBe(aggregateError(from, fixture(from, 'stream.error.sse')));
      expect((e as UpstreamStreamError).partial.content).toEqual([{ type: 'text', text: 'It is 15°C ' }]);
    }
  });

  it('translates non-streamed responses both ways', () => {
    for (const name of ['response.text.json', 'response.tools.json']) {
      const upstream = codecFor(from).decodeResponse(json(from, name));
      const client = codecFor(to).decodeResponse(JSON.parse(JSON.stringify(codecFor(to).encodeResponse(upstream))));
      const opts = { cached: true, reasoningTokens: to !== 'claude' && from !== 'claude' };
      expect(meaning(client, opts)).toEqual(meaning(upstream, opts));
    }
  });

  it('serves a non-streamed upstream to a streaming client and back', () => {
    const upstream = codecFor(from).decodeResponse(json(from, 'response.tools.json'));
    const client = aggregateStream(to, streamFromResponse(to, upstream));
    expect(meaning(client, { cached: true })).toEqual(meaning(upstream, { cached: true }));
  });
});

function aggregateError(format: ClientFormat, body: string): string {
  try {
    aggregateStream(format, body);
  } catch (e) {
    return (e as UpstreamStreamError).error.message;
  }
  throw new Error('fixture has no error');
}

describe('legacy completions as client and upstream', () => {
  it.each(MAIN_FORMATS)('streams %s text to a completions client', (from) => {
    const body = fixture(from, 'stream.text.sse');
    const client = aggregateStream('openai-completions', translate(from, 'openai-completions', body, SPLITS[1][1]));
    expect(meaning(client, { reasoning: false, tools: false })).toEqual(
      meaning(aggregateStream(from, body), { reasoning: false, tools: false }),
    );
  });

  it.each(MAIN_FORMATS)('serves a completions client from %s and a %s client from completions', (to) => {
    const req = decode('openai-completions', json('openai-completions', 'request.json'));
    const back = decode(to, codecFor(to).encodeRequest(req, { model: MODEL[to] }));
    expect(back.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Say this is a test' }] }]);
    const res = aggregateStream(
      to,
      translate('openai-completions', to, fixture('openai-completions', 'stream.text.sse'), SPLITS[2][1]),
    );
    expect(res.content).toEqual([{ type: 'text', text: 'This is a test' }]);
  });
});

describe('gemini client without alt=sse', () => {
  it.each(MAIN_FORMATS)('receives one JSON array from %s', (from) => {
    const out = translate(from, 'gemini', fixture(from, 'stream.tools.sse'), SPLITS[1][1], { jsonArray: true });
    const parsed = JSON.parse(out);
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed.at(-1).candidates[0].finishReason).toBe('STOP');
    expect(meaning(aggregateStream('gemini', out), { cached: true })).toEqual(
      meaning(aggregateStream(from, fixture(from, 'stream.tools.sse')), { cached: true }),
    );
  });
});
