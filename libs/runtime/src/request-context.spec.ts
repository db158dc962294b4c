import { PassThrough } from 'node:stream';
import { lastValueFrom, Observable, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createServiceLogger, withRequestId } from './logging';

const lines: Record<string, unknown>[] = [];
const sink = new PassThrough();
sink.on('data', (chunk: Buffer) =>
  lines.push(
    ...chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  ),
);
const log = createServiceLogger('test-service', { level: 'trace', pretty: false }, sink);

const flushed = () => new Promise((resolve) => setImmediate(resolve));
const about = (id: string) => lines.filter((l) => l.request_id === id).map((l) => l.msg);

describe('withRequestId', () => {
  it('tags every line of a handler with the request id, also after awaits, and nothing outside it', async () => {
    const result = await withRequestId('req-async', async () => {
      log.info('before await');
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.info('after await');
      return 42;
    });
    log.info('outside');
    await flushed();
    expect(result).toBe(42);
    expect(about('req-async')).toEqual(['before await', 'after await']);
    expect(lines.find((l) => l.msg === 'outside')).not.toHaveProperty('request_id');
  });

  it('keeps concurrent handlers apart', async () => {
    const handler = (id: string, ms: number) =>
      withRequestId(id, async () => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        log.info(`done ${id}`);
      });
    await Promise.all([handler('req-slow', 10), handler('req-fast', 1)]);
    await flushed();
    expect(about('req-slow')).toEqual(['done req-slow']);
    expect(about('req-fast')).toEqual(['done req-fast']);
  });

  it('tags the lines of a returned stream, read after the handler returned', async () => {
    const stream = await withRequestId('req-stream', async () => {
      await Promise.resolve();
      return new Observable<number>((subscriber) => {
        log.info('stream started');
        setTimeout(() => {
          log.info('stream chunk');
          subscriber.next(1);
          subscriber.complete();
        }, 5);
      });
    });
    expect(await lastValueFrom(stream.pipe(toArray()))).toEqual([1]);
    await flushed();
    expect(about('req-stream')).toEqual(['stream started', 'stream chunk']);
  });

  it('runs a handler without an id as it is', () => {
    expect(withRequestId(undefined, () => 'plain')).toBe('plain');
  });
});
