import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { snapshotOf, type Catalog } from '@cpa/catalog';
import { hashClientKey } from '@cpa/db/light';
import { metrics } from '@cpa/runtime/metrics';
import type { Frame } from '@cpa/transport';
import { ClientKeyService } from './client-key.service';
import { ClientKeyAdmission } from './client-key-admission';
import { GatewayService } from './gateway.service';

/** Keys of these tests have no limits, so admission never reaches the (absent) limits store. */
const unlimited = new ClientKeyAdmission({} as never);

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** Client keys as a catalog snapshot holds them; `unloaded`: no snapshot read yet. */
type Repo = { keys: string[] } | 'unloaded';

function clientKeys(repo: Repo): ClientKeyService {
  const keys = repo === 'unloaded' ? [] : repo.keys;
  const snapshot = snapshotOf(
    [],
    {},
    {
      generation: repo === 'unloaded' ? 0 : 1,
      clientKeys: new Map(
        keys.map((key, i) => [
          hashClientKey(key),
          { id: `c${i + 1}`, label: '', disabled: false, hash: hashClientKey(key) },
        ]),
      ),
    },
  );
  return new ClientKeyService({ snapshot } as unknown as Catalog);
}

/** A gateway whose key store is the given snapshot; the transport must not be reached. */
async function call(repo: Repo, headers: Record<string, string>, body = '{"model":"m"}', bodyLimitBytes = 1024) {
  const transport = {
    request: () => {
      throw new Error('transport must not be called');
    },
  };
  const gateway = new GatewayService(
    clientKeys(repo),
    transport as never,
    { snapshot: snapshotOf([], {}) } as never,
    { requestTimeoutMs: 1000, bodyLimitBytes },
    unlimited,
  );
  server = createServer((req, res) => void gateway.proxy({ format: 'claude', req, res, query: new URLSearchParams() }));
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`, {
    method: 'POST',
    headers,
    body,
  });
  return { status: res.status, body: await res.json() };
}

describe('GatewayService key checks', () => {
  it('answers 503 in the client format before any catalog snapshot could be read', async () => {
    const out = await call('unloaded', { 'x-api-key': 'sk-1' });
    expect(out.status).toBe(503);
    expect(out.body).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(JSON.stringify(out.body)).not.toContain('sk-1');
  });

  it('answers 401 with CLIProxyAPI bodies for missing and unknown keys', async () => {
    expect(await call({ keys: [] }, {})).toEqual({ status: 401, body: { error: 'Missing API key' } });
    expect(await call({ keys: ['sk-1'] }, { 'x-api-key': 'nope' })).toEqual({
      status: 401,
      body: { error: 'Invalid API key' },
    });
  });
});

describe('GatewayService request bodies', () => {
  const known: Repo = { keys: ['sk-1'] };

  it('answers 413 in the client format past the body limit', async () => {
    const out = await call(known, { 'x-api-key': 'sk-1' }, JSON.stringify({ model: 'm', pad: 'x'.repeat(2048) }));
    expect(out.status).toBe(413);
    expect(out.body).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
  });

  it('refuses an unknown key from the headers without reading the body', async () => {
    const transport = {
      request: () => {
        throw new Error('transport must not be called');
      },
    };
    const gateway = new GatewayService(
      clientKeys({ keys: ['sk-1'] }),
      transport as never,
      { snapshot: snapshotOf([], {}) } as never,
      { requestTimeoutMs: 1000, bodyLimitBytes: 1024 },
      unlimited,
    );
    server = createServer(
      (req, res) => void gateway.proxy({ format: 'claude', req, res, query: new URLSearchParams() }),
    );
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    // A body over the limit that never ends: read first, it would give 413 (or no answer at all).
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'nope', 'content-length': String(50 * 1024 * 1024) },
      body: new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"model":')) }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(401);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ error: 'Invalid API key' });
  });

  it('answers malformed JSON with 400 in the client format', async () => {
    const out = await call(known, { 'x-api-key': 'sk-1' }, '{"model": ');
    expect(out.status).toBe(400);
    expect(out.body).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/JSON/) } });
  });
});

describe('GatewayService in-flight cap', () => {
  /** A gateway capped at one request in flight whose transport hands each request's reply to the test. */
  async function capped() {
    const replies: Subject<Frame>[] = [];
    let throwNext = false;
    const transport = {
      request: () => {
        if (throwNext) {
          throwNext = false;
          throw new Error('bug in the transport');
        }
        const reply = new Subject<Frame>();
        replies.push(reply);
        return reply.asObservable();
      },
    };
    const gateway = new GatewayService(
      clientKeys({ keys: ['sk-1'] }),
      transport as never,
      { snapshot: snapshotOf([], {}) } as never,
      { requestTimeoutMs: 1000, bodyLimitBytes: 1024, inFlight: { maxRequests: 1, maxBytes: 0 } },
      unlimited,
    );
    server = createServer(
      (req, res) =>
        void gateway.proxy({ format: 'claude', req, res, query: new URLSearchParams() }).catch(() => res.destroy()),
    );
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`;
    const post = (signal?: AbortSignal) =>
      fetch(url, { method: 'POST', headers: { 'x-api-key': 'sk-1' }, body: '{"model":"m"}', signal });
    /** Resolves once the transport has been asked for the n-th request (the request holds its slot). */
    const dispatched = async (n: number) => {
      while (replies.length < n) await new Promise((r) => setTimeout(r, 5));
      return replies[n - 1]!;
    };
    return { post, dispatched, failNextDispatch: () => (throwNext = true) };
  }
  const shedCount = async () =>
    (await metrics.gatewayShed.get()).values.find((v) => v.labels.reason === 'requests')?.value ?? 0;

  async function expectShed(post: () => Promise<Response>) {
    const before = await shedCount();
    const res = await post();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(await shedCount()).toBe(before + 1);
  }

  it('sheds the request past the cap in the client format, and frees the slot when a reply completes', async () => {
    const { post, dispatched } = await capped();
    const first = post();
    const reply = await dispatched(1);
    await expectShed(post);
    reply.next({
      meta: { status: 200, headers: { 'content-type': 'application/json' } },
      body: Buffer.from('{"ok":true}'),
    });
    reply.complete();
    expect(await (await first).json()).toEqual({ ok: true });
    const second = post();
    (await dispatched(2)).complete();
    expect((await second).status).toBe(200);
  });

  it('frees the slot when a stream ends, when the reply fails, when the client goes away and when the dispatch throws', async () => {
    const { post, dispatched, failNextDispatch } = await capped();
    // Stream end.
    const streamed = post();
    const stream = await dispatched(1);
    stream.next({ meta: { status: 200, headers: { 'content-type': 'text/event-stream' } } });
    stream.next({ body: Buffer.from('data: 1\n\n') });
    stream.complete();
    expect(await (await streamed).text()).toBe('data: 1\n\n');
    // Error from the transport.
    const failed = post();
    (await dispatched(2)).error(Object.assign(new Error('gone'), { code: 'lost' }));
    expect((await failed).status).toBe(503);
    // Client abort.
    const abort = new AbortController();
    const aborted = post(abort.signal);
    const held = await dispatched(3);
    abort.abort();
    await expect(aborted).rejects.toThrow();
    while (held.observed) await new Promise((r) => setTimeout(r, 5));
    // A bug thrown while dispatching.
    failNextDispatch();
    await expect(post()).rejects.toThrow();
    // After all of them the one slot is free again.
    const last = post();
    (await dispatched(4)).complete();
    expect((await last).status).toBe(200);
  });
});
