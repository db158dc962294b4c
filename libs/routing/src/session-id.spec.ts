import { describe, expect, it } from 'vitest';
import { extractSessionIds, fnv1a64, messageHashIds, normalizeExplicitId, sessionIdList } from './session-id';

/** Independent FNV-1a 64 over two 32-bit halves, to cross-check the BigInt version. */
function fnvHalves(bytes: Uint8Array): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const b of bytes) {
    lo ^= b;
    // multiply (hi,lo) by prime 0x100000001b3 = 2^40 + 0x1b3
    const loLow = (lo & 0xffff) * 0x1b3;
    const loHigh = (lo >>> 16) * 0x1b3;
    const newLo = (loLow + ((loHigh & 0xffff) << 16)) >>> 0;
    const carry = Math.floor((loLow + (loHigh & 0xffff) * 65536) / 2 ** 32) + (loHigh >>> 16);
    const newHi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    hi = newHi;
    lo = newLo;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

const enc = new TextEncoder();
const expectedHash = (text: string): string => `msg:${fnvHalves(enc.encode(text))}`;

describe('fnv1a64', () => {
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('matches the published FNV-1a 64 vector for %j', (input, hex) => {
    expect(fnv1a64(input).toString(16).padStart(16, '0')).toBe(hex);
    expect(fnvHalves(enc.encode(input))).toBe(hex);
  });
});

describe('extractSessionIds priority', () => {
  const body = {
    metadata: { user_id: 'user_abc_account__session_0f3c-12ab' },
    conversation_id: 'conv-1',
    prompt_cache_key: 'pck-1',
    messages: [{ role: 'user', content: 'hi' }],
  };

  it('prefers the X-Claude-Code-Session-Id header', () => {
    expect(extractSessionIds({ 'x-claude-code-session-id': 'cc-1', 'x-session-id': 's' }, body)).toEqual({
      primary: 'claude:cc-1',
    });
  });

  it('reads the old Claude Code user_id form', () => {
    expect(extractSessionIds({ 'x-session-id': 's' }, body)).toEqual({ primary: 'claude:0f3c-12ab' });
  });

  it('reads the JSON Claude Code user_id form', () => {
    const json = { metadata: { user_id: JSON.stringify({ device_id: 'd', account_uuid: 'a', session_id: 'uuid-9' }) } };
    expect(extractSessionIds({ 'x-session-id': 's' }, json)).toEqual({ primary: 'claude:uuid-9' });
  });

  it('uses X-Session-ID over the Amp thread and body fields', () => {
    const rest = { ...body, metadata: { user_id: 'plain-user' } };
    expect(extractSessionIds({ 'x-session-id': 's-1', 'x-amp-thread-id': 't' }, rest)).toEqual({
      primary: 'header:s-1',
    });
  });

  it('uses X-Amp-Thread-Id next', () => {
    expect(extractSessionIds({ 'x-amp-thread-id': 'T-1' }, { metadata: { user_id: 'u' } })).toEqual({
      primary: 'amp:T-1',
    });
  });

  it('uses other metadata.user_id values next', () => {
    expect(extractSessionIds({}, { ...body, metadata: { user_id: 'plain-user' } })).toEqual({
      primary: 'user:plain-user',
    });
  });

  it('uses conversation_id, then prompt_cache_key', () => {
    expect(extractSessionIds({}, { conversation_id: 'c-7', prompt_cache_key: 'k' })).toEqual({ primary: 'conv:c-7' });
    expect(extractSessionIds({}, { prompt_cache_key: 'k-2', messages: [{ role: 'user', content: 'x' }] })).toEqual({
      primary: 'pck:k-2',
    });
  });

  it('ignores explicit ids with control characters or over 256 bytes, and trims others', () => {
    expect(normalizeExplicitId('  ok  ')).toBe('ok');
    expect(normalizeExplicitId('bad\nid')).toBe('');
    expect(normalizeExplicitId('x'.repeat(257))).toBe('');
    expect(extractSessionIds({ 'x-session-id': 'a\u0007b' }, { conversation_id: 'c' })).toEqual({ primary: 'conv:c' });
  });

  it('accepts repeated header values and takes the first usable one', () => {
    expect(extractSessionIds({ 'x-session-id': ['', 'second'] }, undefined)).toEqual({ primary: 'header:second' });
  });

  it('returns nothing without any signal', () => {
    expect(extractSessionIds({}, undefined)).toBeUndefined();
    expect(extractSessionIds({}, { model: 'x' })).toBeUndefined();
    expect(sessionIdList(undefined)).toEqual([]);
  });
});

describe('message hash', () => {
  it('hashes the first system and user texts of OpenAI messages', () => {
    const ids = messageHashIds({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(ids).toEqual({ primary: expectedHash('sys:Be brief.\nusr:Hello\n') });
    expect(ids?.primary).toMatch(/^msg:[0-9a-f]{16}$/);
  });

  it('uses the first-turn hash as fallback once an assistant reply exists', () => {
    const turn1 = { messages: [{ role: 'user', content: 'Hello' }] };
    const turn2 = {
      messages: [...turn1.messages, { role: 'assistant', content: 'Hi!' }, { role: 'user', content: 'More' }],
    };
    const first = extractSessionIds({}, turn1);
    const second = extractSessionIds({}, turn2);
    expect(second).toEqual({ primary: expectedHash('usr:Hello\nast:Hi!\n'), fallback: first?.primary });
    expect(sessionIdList(second)).toEqual([second?.primary, first?.primary]);
  });

  it('joins text parts of array content with spaces and skips other parts', () => {
    const ids = messageHashIds({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'image_url', image_url: {} },
            { type: 'text', text: 'b' },
          ],
        },
      ],
    });
    expect(ids?.primary).toBe(expectedHash('usr:a b\n'));
  });

  it('truncates each text to 100 bytes', () => {
    const long = 'x'.repeat(150);
    expect(messageHashIds({ messages: [{ role: 'user', content: long }] })?.primary).toBe(
      expectedHash(`usr:${'x'.repeat(100)}\n`),
    );
  });

  it('truncates by bytes even inside a multi-byte character, as Go does', () => {
    const text = `${'x'.repeat(99)}é`;
    const bytes = new Uint8Array([...enc.encode('usr:'), ...enc.encode(text).slice(0, 100), ...enc.encode('\n')]);
    expect(messageHashIds({ messages: [{ role: 'user', content: text }] })?.primary).toBe(`msg:${fnvHalves(bytes)}`);
  });

  it('uses the Claude top-level system (string or blocks)', () => {
    const msgs = [{ role: 'user', content: 'Q' }];
    expect(messageHashIds({ system: 'S', messages: msgs })?.primary).toBe(expectedHash('sys:S\nusr:Q\n'));
    expect(
      messageHashIds({
        system: [
          { type: 'text', text: '' },
          { type: 'text', text: 'S2' },
        ],
        messages: msgs,
      })?.primary,
    ).toBe(expectedHash('sys:S2\nusr:Q\n'));
  });

  it('reads Gemini contents and systemInstruction', () => {
    const ids = messageHashIds({
      systemInstruction: { parts: [{ text: 'SI' }] },
      contents: [
        { role: 'user', parts: [{ text: 'U1' }, { text: 'U-ignored' }] },
        { role: 'model', parts: [{ text: 'M1' }] },
      ],
    });
    expect(ids).toEqual({
      primary: expectedHash('sys:SI\nusr:U1\nast:M1\n'),
      fallback: expectedHash('sys:SI\nusr:U1\n'),
    });
  });

  it('reads Responses input and instructions, skipping reasoning and tool items', () => {
    const ids = messageHashIds({
      instructions: 'I',
      input: [
        { type: 'reasoning', summary: [] },
        { type: 'function_call', name: 'f' },
        { role: 'developer', content: 'dev-ignored' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'U' }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'A' }] },
      ],
    });
    expect(ids).toEqual({ primary: expectedHash('sys:I\nusr:U\nast:A\n'), fallback: expectedHash('sys:I\nusr:U\n') });
  });

  it('takes the Responses developer message as system without instructions', () => {
    expect(
      messageHashIds({
        input: [
          { role: 'developer', content: 'D' },
          { role: 'user', content: 'U' },
        ],
      })?.primary,
    ).toBe(expectedHash('sys:D\nusr:U\n'));
  });

  it('gives nothing without system or user text', () => {
    expect(messageHashIds({ messages: [{ role: 'assistant', content: 'only' }] })).toBeUndefined();
  });
});
