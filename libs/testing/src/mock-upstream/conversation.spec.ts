import { describe, expect, it } from 'vitest';
import {
  countWords,
  fromAnthropic,
  fromGemini,
  fromOpenAIChat,
  fromOpenAIResponses,
  planReply,
  sampleFromSchema,
  splitText,
} from './conversation';

describe('countWords', () => {
  it('counts whitespace-separated words', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('  one\ttwo\nthree  ')).toBe(3);
  });
});

describe('splitText', () => {
  it('splits on word boundaries into at most n pieces that join back', () => {
    const text = 'echo: one two three four five';
    for (const n of [1, 2, 3, 4, 10]) {
      const pieces = splitText(text, n);
      expect(pieces.join('')).toBe(text);
      expect(pieces.length).toBeLessThanOrEqual(n);
    }
    expect(splitText('a b c', 10)).toEqual(['a ', 'b ', 'c']);
    expect(splitText('', 3)).toEqual([]);
  });
});

describe('sampleFromSchema', () => {
  it('fills a schema deterministically', () => {
    const schema = {
      type: 'object',
      properties: {
        s: { type: 'string' },
        e: { enum: ['x', 'y'] },
        n: { type: 'number' },
        b: { type: 'boolean' },
        a: { type: 'array', items: { type: 'integer' } },
        o: { properties: { inner: { type: 'STRING' } } },
      },
    };
    expect(sampleFromSchema(schema, 'T')).toEqual({ s: 'T', e: 'x', n: 1, b: true, a: [1], o: { inner: 'T' } });
  });
});

describe('request readers', () => {
  it('reads the last user text and prompt words of each format', () => {
    expect(
      fromOpenAIChat({
        model: 'm',
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: [{ type: 'text', text: 'a b' }] },
        ],
      }),
    ).toMatchObject({ model: 'm', lastUserText: 'a b', promptWords: 3 });
    expect(
      fromAnthropic({
        model: 'c',
        system: [{ type: 'text', text: 's1 s2' }],
        messages: [{ role: 'user', content: 'q' }],
      }),
    ).toMatchObject({
      lastUserText: 'q',
      promptWords: 3,
    });
    expect(
      fromGemini('g', {
        systemInstruction: { parts: [{ text: 'sys' }] },
        contents: [{ role: 'user', parts: [{ text: 'x y' }] }],
      }),
    ).toMatchObject({
      model: 'g',
      lastUserText: 'x y',
      promptWords: 3,
    });
    expect(fromOpenAIResponses({ model: 'r', instructions: 'i', input: 'hello' })).toMatchObject({
      lastUserText: 'hello',
      promptWords: 2,
    });
  });
});

describe('planReply', () => {
  const tools = [{ name: 'search', schema: { type: 'object', properties: { q: { type: 'string' } } } }];
  const base = { model: 'm', promptWords: 3, tools, lastTurnIsToolResult: false, wantsThinking: false };

  it('echoes when no tool is asked for', () => {
    expect(planReply({ ...base, lastUserText: 'just chat' }, undefined)).toMatchObject({
      text: 'echo: just chat',
      toolCalls: [],
      inputTokens: 3,
      outputTokens: 3,
    });
  });
  it('calls a tool named in the text, or the first tool when "tool" is mentioned', () => {
    expect(planReply({ ...base, lastUserText: 'search cats' }, undefined).toolCalls).toEqual([
      { name: 'search', args: { q: 'search cats' } },
    ]);
    expect(planReply({ ...base, lastUserText: 'use a tool' }, undefined).toolCalls[0].name).toBe('search');
  });
  it('answers a tool result with text', () => {
    expect(
      planReply({ ...base, lastUserText: 'tool result: ok', lastTurnIsToolResult: true }, undefined),
    ).toMatchObject({ text: 'echo: tool result: ok', toolCalls: [] });
  });
  it('adds thinking when asked and prefers a scripted reply', () => {
    expect(planReply({ ...base, lastUserText: 'hm', wantsThinking: true }, undefined).thinking).toBe(
      'thinking about: hm',
    );
    expect(planReply({ ...base, lastUserText: 'hm' }, { text: 'fixed' })).toMatchObject({
      text: 'fixed',
      toolCalls: [],
      thinking: '',
    });
  });
});
