import { describe, expect, it } from 'vitest';
import {
  encodeCommand,
  encodeCommandParts,
  luaScript,
  RespErrorReply,
  RespProtocolError,
  RespReplyParser,
  type RespReply,
} from './body-connection';
import { createHash } from 'node:crypto';

function parse(chunks: Buffer[]): RespReply[] {
  const replies: RespReply[] = [];
  const parser = new RespReplyParser((reply) => replies.push(reply));
  for (const chunk of chunks) parser.feed(chunk);
  return replies;
}

/** Every way of cutting `bytes` in two, plus one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [];
  for (let at = 0; at <= bytes.length; at++) ways.push([bytes.subarray(0, at), bytes.subarray(at)]);
  ways.push([...bytes].map((byte) => Buffer.from([byte])));
  return ways;
}

describe('RespReplyParser', () => {
  const body = Buffer.from('{"model":"gpt-5","messages":[{"content":"héllo \\r\\n $3"}]}');
  const stream = Buffer.concat([
    Buffer.from(`$${body.length}\r\n`),
    body,
    Buffer.from('\r\n$-1\r\n+OK\r\n-ERR wrong number of arguments\r\n$0\r\n\r\n'),
  ]);

  it('reads bulk, null, status, error and empty replies however the bytes are cut', () => {
    for (const chunks of splits(stream)) {
      const replies = parse(chunks);
      expect(replies).toHaveLength(5);
      expect(Buffer.isBuffer(replies[0])).toBe(true);
      expect((replies[0] as Buffer).equals(body)).toBe(true);
      expect(replies[1]).toBeNull();
      expect(replies[2]).toEqual({ status: 'OK' });
      expect(replies[3]).toBeInstanceOf(RespErrorReply);
      expect((replies[3] as RespErrorReply).message).toBe('ERR wrong number of arguments');
      expect(Buffer.isBuffer(replies[4]) && (replies[4] as Buffer).length).toBe(0);
    }
  });

  it('gives each bulk memory of its own, of its exact size (no shared pool to pin)', () => {
    const large = Buffer.alloc(200_000, 0x61);
    const bytes = Buffer.concat([Buffer.from(`$${large.length}\r\n`), large, Buffer.from('\r\n')]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 65_536) chunks.push(bytes.subarray(at, at + 65_536));
    const [reply] = parse(chunks) as Buffer[];
    expect(reply!.equals(large)).toBe(true);
    expect(reply!.buffer.byteLength).toBe(large.length);
    expect(reply!.byteOffset).toBe(0);
  });

  it('keeps nothing of a chunk after feeding it: every chunk may arrive in the same reused memory', () => {
    for (const chunks of splits(stream)) {
      const reused = Buffer.alloc(stream.length);
      const replies: RespReply[] = [];
      const parser = new RespReplyParser((reply) => replies.push(reply));
      for (const chunk of chunks) {
        chunk.copy(reused);
        parser.feed(reused.subarray(0, chunk.length));
        reused.fill(0x2a);
      }
      expect(replies).toHaveLength(5);
      expect((replies[0] as Buffer).equals(body)).toBe(true);
      expect(replies[2]).toEqual({ status: 'OK' });
      expect((replies[3] as RespErrorReply).message).toBe('ERR wrong number of arguments');
    }
  });

  it('hands a bulk over as soon as its bytes are in, before its CRLF arrives', () => {
    const replies = parse([Buffer.from('$3\r\nabc')]);
    expect(replies.map((r) => (r as Buffer).toString())).toEqual(['abc']);
  });

  it("reads a script's integer replies", () => {
    expect(parse([Buffer.from(':1\r\n:0\r'), Buffer.from('\n:-1\r\n')])).toEqual([1, 0, -1]);
  });

  it('refuses bytes that are not a reply to GET, EVALSHA, AUTH or SELECT', () => {
    expect(() => parse([Buffer.from('*2\r\n')])).toThrow(RespProtocolError);
    expect(() => parse([Buffer.from(':x1\r\n')])).toThrow(/invalid integer/);
    expect(() => parse([Buffer.from('$abc\r\n')])).toThrow(/invalid bulk length/);
    expect(() => parse([Buffer.from('$-2\r\n')])).toThrow(/invalid bulk length/);
    expect(() => parse([Buffer.from('$3\r\nabcXY')])).toThrow(/CRLF/);
    expect(() => parse([Buffer.from('+OK\n')])).toThrow(/without CRLF/);
    expect(() => parse([Buffer.from(`+${'x'.repeat(70_000)}`)])).toThrow(/too long/);
  });
});

describe('encodeCommand', () => {
  it('writes an array of bulk strings with byte lengths', () => {
    expect(encodeCommand('GET', 'cpa:body:é').toString()).toBe('*2\r\n$3\r\nGET\r\n$11\r\ncpa:body:é\r\n');
    expect(encodeCommand('AUTH', 'user', 'p@ss').toString()).toBe('*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$4\r\np@ss\r\n');
  });
});

describe('encodeCommandParts', () => {
  const standard = (args: (string | Buffer)[]) =>
    Buffer.concat([
      Buffer.from(`*${args.length}\r\n`),
      ...args.flatMap((arg) => {
        const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
        return [Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')];
      }),
    ]);

  it('writes large Buffer arguments as they are, everything else joined around them', () => {
    const item = Buffer.from('{"id":"1","pattern":"scheduler.dispatch"}');
    const body = Buffer.alloc(64 * 1024, 0x61);
    const args = ['EVALSHA', 'abc', '3', 'q', 'r', 'b', '0', item, body, '125000'];
    const parts = encodeCommandParts(args);
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(body);
    expect(Buffer.concat(parts).equals(standard(args))).toBe(true);
  });

  it('joins a command without large arguments into one Buffer, counting bytes, not characters', () => {
    const args = ['SET', 'clé', Buffer.from([0, 13, 10]), 'PX', '1000'];
    const parts = encodeCommandParts(args);
    expect(parts).toHaveLength(1);
    expect(parts[0]!.equals(standard(args))).toBe(true);
    expect(encodeCommand('GET', 'k').toString()).toBe('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
  });

  it('names a script by the SHA-1 Redis gives it', () => {
    expect(luaScript('return 1').sha).toBe(createHash('sha1').update('return 1').digest('hex'));
  });
});
