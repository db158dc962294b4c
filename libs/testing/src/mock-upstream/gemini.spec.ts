import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from './server';
import type { MockUpstream } from './types';

describe('mock upstream: Gemini via the official SDK', () => {
  let mock: MockUpstream;
  let ai: GenAI.GoogleGenAI;
  let Type: typeof GenAI.Type;
  beforeAll(async () => {
    // @google/genai is ESM-only; this workspace compiles to CommonJS.
    const genai = await import('@google/genai');
    Type = genai.Type;
    const { GoogleGenAI } = genai;
    mock = await startMockUpstream();
    ai = new GoogleGenAI({ apiKey: 'AIza-mock-1', httpOptions: { baseUrl: mock.url } });
  });
  afterAll(() => mock.close());
  beforeEach(() => mock.reset());

  it('answers generateContent with the echo, finish reason and usage', async () => {
    const res = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'hello gemini world',
      config: { systemInstruction: 'be short' },
    });
    expect(res.text).toBe('echo: hello gemini world');
    expect(res.candidates?.[0].finishReason).toBe('STOP');
    expect(res.modelVersion).toBe('gemini-2.5-flash');
    expect(res.usageMetadata).toMatchObject({ promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 });
    expect(mock.requests[0]).toMatchObject({
      path: '/v1beta/models/gemini-2.5-flash:generateContent',
      apiKey: 'AIza-mock-1',
      format: 'gemini',
    });
  });

  it('streams with alt=sse; the SDK yields every chunk and the last carries usage', async () => {
    mock.setBehavior('AIza-mock-1', { streamChunks: 3 });
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'a b c d e' });
    const texts: string[] = [];
    let last;
    for await (const chunk of stream) {
      texts.push(chunk.text ?? '');
      last = chunk;
    }
    expect(texts).toHaveLength(3);
    expect(texts.join('')).toBe('echo: a b c d e');
    expect(last?.candidates?.[0].finishReason).toBe('STOP');
    expect(last?.usageMetadata?.promptTokenCount).toBe(5);
    expect(mock.requests[0].query).toEqual({ alt: 'sse' });
  });

  it('returns a function call for a declared function the user names, and text for its response', async () => {
    const config = {
      tools: [
        {
          functionDeclarations: [
            {
              name: 'find_flight',
              parameters: {
                type: Type.OBJECT,
                properties: { to: { type: Type.STRING }, seats: { type: Type.INTEGER } },
              },
            },
          ],
        },
      ],
    };
    const res = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'find_flight to Oslo', config });
    expect(res.functionCalls).toEqual([
      { id: 'call_mock_0', name: 'find_flight', args: { to: 'find_flight to Oslo', seats: 1 } },
    ]);
    const stream = await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'find_flight to Oslo',
      config,
    });
    const calls = [];
    for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
    expect(calls.map((c) => c.name)).toEqual(['find_flight']);
    const answer = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      config,
      contents: [
        { role: 'user', parts: [{ text: 'find_flight to Oslo' }] },
        { role: 'model', parts: [{ functionCall: { name: 'find_flight', args: {} } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'find_flight', response: { flight: 'SK123' } } }] },
      ],
    });
    expect(answer.text).toBe('echo: tool result: {"flight":"SK123"}');
  });

  it('emits thought parts when includeThoughts is set', async () => {
    const res = await ai.models.generateContent({
      model: 'gemini-2.5-pro',
      contents: 'ponder this',
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 128 } },
    });
    const parts = res.candidates?.[0].content?.parts ?? [];
    expect(parts[0]).toEqual({ text: 'thinking about: ponder this', thought: true });
    expect(res.text).toBe('echo: ponder this');
  });

  it('counts tokens and lists models', async () => {
    const count = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'count these four words' });
    expect(count.totalTokens).toBe(4);
    const pager = await ai.models.list();
    const names = [];
    for await (const m of pager) names.push(m.name);
    expect(names).toContain('models/gemini-2.5-flash');
  });

  it('streams a JSON array incrementally without alt=sse, and takes the key from ?key=', async () => {
    mock.setBehavior('qk', { streamChunks: 2, chunkDelayMs: 5 });
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?key=qk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'array please' }] }] }),
    });
    expect(res.headers.get('content-type')).toContain('application/json');
    const reads: string[] = [];
    const decoder = new TextDecoder();
    for await (const part of res.body!) reads.push(decoder.decode(part as Uint8Array));
    expect(reads.length).toBeGreaterThan(1);
    expect(reads[0].startsWith('[')).toBe(true);
    const array = JSON.parse(reads.join('')) as { candidates: { content: { parts: { text: string }[] } }[] }[];
    expect(array.map((c) => c.candidates[0].content.parts[0].text).join('')).toBe('echo: array please');
    expect(mock.requests[0].apiKey).toBe('qk');
  });

  it('rejects a request without any key with 403 PERMISSION_DENIED', async () => {
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [] }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { status: string } }).error.status).toBe('PERMISSION_DENIED');
  });
});
