import { describe, expect, it } from 'vitest';
import {
  decodeCancel,
  decodeReply,
  decodeRequest,
  encodeCancel,
  encodeMessage,
  encodeReply,
  encodeRequest,
  splitMessage,
  splitReply,
  WireError,
} from './wire';

const binary = Buffer.from([0x00, 0xff, 0x0a, 0xc3, 0x28, 0x0d, 0x0a, 0x80, 0xfe]);

describe('encodeMessage / splitMessage', () => {
  it('writes the JSON header, a newline, then the raw bytes untouched', () => {
    const message = encodeMessage({ a: 'x\ny' }, binary);
    const nl = message.indexOf(0x0a);
    expect(message.toString('utf8', 0, nl)).toBe('{"a":"x\\ny"}');
    expect(message.subarray(nl + 1).equals(binary)).toBe(true);
  });

  it('concatenates several raw parts in order', () => {
    const message = encodeMessage({}, [Buffer.from('ab'), Buffer.alloc(0), Buffer.from([0xff])]);
    expect(splitMessage(message).raw.equals(Buffer.from([0x61, 0x62, 0xff]))).toBe(true);
  });

  it('keeps multi-byte characters in the header intact', () => {
    const { header, raw } = splitMessage(encodeMessage({ s: 'héllo ✓ 日本' }));
    expect(header).toEqual({ s: 'héllo ✓ 日本' });
    expect(raw.length).toBe(0);
  });

  it('rejects a message without a header line or with a non-JSON header', () => {
    expect(() => splitMessage(Buffer.from('no newline'))).toThrow(WireError);
    expect(() => splitMessage(Buffer.from('{oops\nbody'))).toThrow(WireError);
  });
});

describe('requests', () => {
  it('round-trips every field and a binary body byte-exact', () => {
    const message = {
      id: 'p.1',
      pattern: 'scheduler.dispatch',
      replyTo: 'x:reply:p',
      deadline: 1_700_000_000_000,
      data: { model: 'gpt', n: [1, 2] },
      body: binary,
    };
    const decoded = decodeRequest(encodeRequest(message));
    expect(decoded).toEqual(message);
    expect(decoded.body!.equals(binary)).toBe(true);
  });

  it('carries a body stored by reference as a mark in the header and no bytes', () => {
    const item = encodeRequest({ id: 'p.2', pattern: 'scheduler.dispatch', data: { model: 'm' }, bodyRef: true });
    expect(item.toString()).toBe('{"id":"p.2","pattern":"scheduler.dispatch","data":{"model":"m"},"r":1}\n');
    expect(decodeRequest(item)).toEqual({
      id: 'p.2',
      pattern: 'scheduler.dispatch',
      data: { model: 'm' },
      bodyRef: true,
    });
    expect(() => encodeRequest({ id: 'p.3', pattern: 'q.p', data: 1, body: binary, bodyRef: true })).toThrow(WireError);
  });

  it('tells an empty body from no body', () => {
    expect(decodeRequest(encodeRequest({ id: 'a', pattern: 'q.p', data: 1, body: Buffer.alloc(0) })).body).toEqual(
      Buffer.alloc(0),
    );
    expect(decodeRequest(encodeRequest({ id: 'a', pattern: 'q.p', data: 1 })).body).toBeUndefined();
  });

  it('leaves optional fields out of the header', () => {
    const header = splitMessage(encodeRequest({ id: 'a', pattern: 'q.p', data: null })).header;
    expect(header).toEqual({ id: 'a', pattern: 'q.p', data: null });
  });

  it.each([
    ['a non-object header', '42\n'],
    ['a missing id', '{"pattern":"a.b"}\n'],
    ['a missing pattern', '{"id":"x"}\n'],
    ['a non-string replyTo', '{"id":"x","pattern":"a.b","replyTo":5}\n'],
    ['a non-numeric deadline', '{"id":"x","pattern":"a.b","deadline":"soon"}\n'],
  ])('rejects %s', (_label, raw) => {
    expect(() => decodeRequest(Buffer.from(raw))).toThrow(WireError);
  });
});

describe('replies', () => {
  it('round-trips several frames with meta, body, both or neither, plus the end', () => {
    const frames = [
      { meta: { status: 200 } },
      { body: Buffer.from('chunk-1') },
      { meta: 'm', body: binary },
      {},
      { body: Buffer.alloc(0) },
    ];
    const decoded = decodeReply(encodeReply({ id: 'r', frames, end: true }));
    expect(decoded.id).toBe('r');
    expect(decoded.end).toBe(true);
    expect(decoded.frames).toEqual([
      { meta: { status: 200 }, body: undefined },
      { meta: undefined, body: Buffer.from('chunk-1') },
      { meta: 'm', body: binary },
      { meta: undefined, body: undefined },
      { meta: undefined, body: Buffer.alloc(0) },
    ]);
  });

  it('carries an error with and without status', () => {
    expect(decodeReply(encodeReply({ id: 'r', error: { message: 'boom', status: 429 } })).error).toEqual({
      message: 'boom',
      status: 429,
    });
    expect(decodeReply(encodeReply({ id: 'r', error: { message: 'boom' } })).error).toEqual({ message: 'boom' });
  });

  it('marks heartbeats and nothing else', () => {
    expect(decodeReply(encodeReply({ id: 'r', heartbeat: true }))).toEqual({ id: 'r', heartbeat: true });
  });

  it('rejects frame lengths that run past the message', () => {
    expect(() => decodeReply(Buffer.from('{"id":"r","f":[{"n":10}]}\nabc'))).toThrow(WireError);
    expect(() => decodeReply(Buffer.from('{"id":"r","f":[{"n":-1}]}\nabc'))).toThrow(WireError);
    expect(() => decodeReply(Buffer.from('{"f":[]}\n'))).toThrow(WireError);
  });
});

describe('cancels', () => {
  it('round-trips id and deadline', () => {
    expect(decodeCancel(encodeCancel({ id: 'c', deadline: 5 }))).toEqual({ id: 'c', deadline: 5 });
    expect(decodeCancel(encodeCancel({ id: 'c' }))).toEqual({ id: 'c', deadline: undefined });
    expect(() => decodeCancel(Buffer.from('{}\n'))).toThrow(WireError);
  });
});

describe('splitReply', () => {
  const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

  it('keeps a reply within the limit as one message', () => {
    const reply = { id: 'r', frames: [{ meta: { status: 200 }, body: bytes(10, 1) }], end: true };
    expect(splitReply(reply, 16)).toEqual([reply]);
  });

  it('splits bodies into parts no message exceeds, which decode and join back to the same frames', () => {
    const frames = [
      { meta: { status: 200 }, body: bytes(40, 1) },
      { body: bytes(5, 2) },
      { meta: 'no body' },
      { body: bytes(20, 3) },
    ];
    const messages = splitReply({ id: 'r', frames, end: true }, 16);
    for (const m of messages) expect(m.frames!.reduce((n, f) => n + (f.body?.length ?? 0), 0)).toBeLessThanOrEqual(16);
    expect(messages.filter((m) => m.end)).toEqual([messages.at(-1)]);
    // What the client does: decode each message and join continued parts.
    const joined: { meta?: unknown; body?: Buffer }[] = [];
    let partial: { meta?: unknown; parts: Buffer[] } | undefined;
    for (const m of messages.map((message) => decodeReply(encodeReply(message)))) {
      for (const f of m.frames ?? []) {
        if (f.continued) {
          partial ??= { meta: f.meta, parts: [] };
          partial.parts.push(f.body!);
          continue;
        }
        if (partial) {
          joined.push({ meta: partial.meta, body: Buffer.concat([...partial.parts, f.body ?? Buffer.alloc(0)]) });
          partial = undefined;
        } else
          joined.push(
            f.body === undefined
              ? { meta: f.meta }
              : { ...(f.meta !== undefined ? { meta: f.meta } : {}), body: f.body },
          );
      }
    }
    expect(joined).toEqual(frames);
  });

  it('carries an error on the last message only', () => {
    const messages = splitReply(
      { id: 'r', frames: [{ body: bytes(33, 1) }], error: { message: 'boom', status: 502 } },
      16,
    );
    expect(messages).toHaveLength(3);
    expect(messages.map((m) => m.error)).toEqual([undefined, undefined, { message: 'boom', status: 502 }]);
  });
});
