import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Observable, of, throwError } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { frame, TransportError, type Frame } from '@cpa/transport';
import { relayFrames } from './relay';

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** Serves one request by relaying `frames`, and returns what a client received. */
async function relay(frames: Observable<Frame>, format: 'claude' | 'openai-chat' = 'openai-chat') {
  server = createServer((_req, res) => void relayFrames(frames, res, format));
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('relayFrames', () => {
  it('sends a complete reply with its status, headers and Content-Length', async () => {
    const out = await relay(
      of(
        frame(
          { status: 201, headers: { 'content-type': 'application/json' }, complete: true },
          Buffer.from('{"ok":true}'),
        ),
      ),
    );
    expect(out).toMatchObject({ status: 201, body: '{"ok":true}' });
    expect(out.headers.get('content-length')).toBe('11');
  });

  it('writes stream frames in order after the head', async () => {
    const out = await relay(
      of(
        frame({ status: 200, headers: { 'content-type': 'text/event-stream' } }, Buffer.from('data: 1\n\n')),
        frame(undefined, Buffer.from('data: 2\n\n')),
      ),
    );
    expect(out.body).toBe('data: 1\n\ndata: 2\n\n');
    expect(out.headers.get('content-length')).toBeNull();
  });

  it('answers 503 in the client format when the message bus is unreachable', async () => {
    const out = await relay(
      throwError(() => new TransportError('closed', 'reply channel connection lost')),
      'claude',
    );
    expect(out.status).toBe(503);
    expect(JSON.parse(out.body)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('answers 503 with Retry-After in the client format when the work queue is full', async () => {
    const out = await relay(
      throwError(() => new TransportError('overloaded', 'the scheduler queue is full; retry shortly', 503)),
      'claude',
    );
    expect(out.status).toBe(503);
    expect(out.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(out.body)).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: expect.stringMatching(/overloaded/) },
    });
  });

  it('answers 504 when the deadline passes before any frame', async () => {
    const out = await relay(throwError(() => new TransportError('deadline', 'deadline exceeded')));
    expect(out.status).toBe(504);
    expect(JSON.parse(out.body).error.message).toMatch(/timed out/);
  });

  it("ends a started stream with the format's own error event when the transport fails mid-way", async () => {
    const failingStream = () =>
      new Observable<Frame>((sub) => {
        sub.next(frame({ status: 200, headers: { 'content-type': 'text/event-stream' } }, Buffer.from('data: 1\n\n')));
        setTimeout(() => sub.error(new TransportError('lost', 'no reply frame to scheduler.dispatch for 5000 ms')), 10);
      });
    const openai = await relay(failingStream());
    expect(openai.status).toBe(200);
    expect(openai.body.startsWith('data: 1\n\n')).toBe(true);
    const event = openai.body.slice('data: 1\n\n'.length);
    expect(JSON.parse(event.replace(/^data: /, '')).error.message).toMatch(/lost the process/);
    const claude = await relay(failingStream(), 'claude');
    expect(claude.body).toMatch(
      /^data: 1\n\nevent: error\ndata: \{"type":"error","error":\{"type":"[a-z_]+","message":"The router lost the process/,
    );
  });
});
