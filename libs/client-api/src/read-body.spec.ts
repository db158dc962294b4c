import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startOffHeapCollector } from '@cpa/runtime';
import { BodyTooLargeError, readBody } from './read-body';

/** A request-like stream with the given headers that will emit `chunks` and end. */
function request(chunks: string[], headers: Record<string, string> = {}) {
  const stream = Object.assign(new PassThrough(), { headers });
  setImmediate(() => {
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
  return stream;
}

describe('readBody', () => {
  it('joins the chunks of a body within the limit', async () => {
    expect((await readBody(request(['{"a":', '1}']), 16)).toString()).toBe('{"a":1}');
    expect((await readBody(request(['12345678']), 8)).toString()).toBe('12345678');
  });

  it('reports the bytes buffered so far after every chunk', async () => {
    const seen: number[] = [];
    await readBody(request(['{"a":', '1}']), 16, (bytes) => seen.push(bytes));
    expect(seen).toEqual([5, 7]);
  });

  it('tells the off-heap collector of the bytes it buffers', async () => {
    let looks = 0;
    const stop = startOffHeapCollector(
      { stepBytes: 16, intervalMs: 1, quietIntervalMs: 60_000 },
      async () => undefined,
      () => (looks++, 0),
    );
    // Past the first (busy) look: it now waits a minute unless bodies arrive.
    await new Promise((resolve) => setTimeout(resolve, 20));
    looks = 0;
    await readBody(request(['{"a":', '"0123"}']), 64);
    stop!();
    // 13 bytes are more than half its 16-byte step: it looked at once.
    expect(looks).toBe(1);
  });

  it('reads an empty body as an empty buffer', async () => {
    expect(await readBody(request([]), 8)).toEqual(Buffer.alloc(0));
  });

  it('refuses a body whose Content-Length is past the limit without reading it', async () => {
    const stream = Object.assign(new PassThrough(), { headers: { 'content-length': '9' } });
    await expect(readBody(stream, 8)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('refuses a body that grows past the limit without a Content-Length', async () => {
    await expect(readBody(request(['1234', '56789']), 8)).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('rejects with the stream error when the client goes away', async () => {
    const stream = Object.assign(new PassThrough(), { headers: {} });
    setImmediate(() => stream.destroy(new Error('aborted')));
    await expect(readBody(stream, 8)).rejects.toThrow('aborted');
  });
});
