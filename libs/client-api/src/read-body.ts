import type { Readable } from 'node:stream';
import { noteOffHeapArrival } from '@cpa/runtime';

export class BodyTooLargeError extends Error {
  constructor() {
    super('Request body is too large');
  }
}

/**
 * Reads a request body into one buffer, refusing it as soon as it passes `limitBytes`
 * (at once when its Content-Length already says so). Rejects with BodyTooLargeError, or
 * with the stream's error when the client goes away mid-body. `onReceived` hears the bytes
 * buffered so far after every chunk (the gateway's in-flight accounting).
 */
export function readBody(
  stream: Readable & { headers?: Record<string, string | string[] | undefined> },
  limitBytes: number,
  onReceived?: (bytes: number) => void,
): Promise<Buffer> {
  const declared = Number(stream.headers?.['content-length']);
  if (declared > limitBytes) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const settle = (err?: Error) => {
      stream.off('data', onData).off('end', onEnd).off('error', settle);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) settle(new BodyTooLargeError());
      else {
        chunks.push(chunk);
        noteOffHeapArrival(chunk.length);
        onReceived?.(received);
      }
    };
    const onEnd = () => settle();
    stream.on('data', onData).on('end', onEnd).on('error', settle);
  });
}
