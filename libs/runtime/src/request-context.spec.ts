import { PassThrough } from 'node:stream';
import { PinoLogger } from 'nestjs-pino';
import { lastValueFrom, Observable, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loggingParams, withLogging, withRequestId } from './logging';

// nestjs-pino keeps one root logger per process: the first one made (here, writing to `lines`) is the one withLogging's context uses.
const lines: Record<string, unknown>[] = [];
const sink = new PassThrough();
sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
const log = new PinoLogger(loggingParams('test-service', { level: 'trace', pretty: false }, sink));
withLogging(class {}, 'test-service');

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
    expect(lines.find((l) => l.msg === 'outside')?.request_id).toBeUndefined();
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
