import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  Controller,
  Injectable,
  Module,
  type INestApplicationContext,
  type INestMicroservice,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { Redis } from 'ioredis';
import { firstValueFrom, from, interval, lastValueFrom, map, Observable, Subject, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CONSUMER_GROUP,
  createTransportClient,
  decodeReply,
  encodeRequest,
  forward,
  frame,
  RedisTransportClient,
  RedisTransportContext,
  RedisTransportServer,
  type RedisTransportServerOptions,
  ReplyFlow,
  TransportError,
  transportKeys,
  TransportModule,
} from './index';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}transport:`;
/** Every test gets keys of its own, so leftovers of one never reach another. */
let prefix = '';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A full garbage collection, in a test process started without --expose-gc. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
/** Items of a queue not taken by any consumer yet (the stream holds taken-but-unfinished ones too). */
async function waiting(queue: string): Promise<number> {
  const key = transportKeys.queue(prefix, queue);
  const length = await redis.xlen(key);
  const pending = (await redis.xpending(key, CONSUMER_GROUP).catch(() => [0])) as [number];
  return length - Number(pending[0] ?? 0);
}
/** Puts an item straight onto a queue, as another process would. */
const pushItem = (queue: string, item: Buffer) => redis.xadd(transportKeys.queue(prefix, queue), '*', 'm', item);
const waitFor = <T>(check: () => T) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

// ---------------------------------------------------------------------------------------
// Handler services

@Controller()
class WorkController {
  readonly seen: number[] = [];
  readonly notes: unknown[] = [];
  readonly events: unknown[] = [];

  @MessagePattern('work.double')
  async double(@Payload() n: number): Promise<number> {
    this.seen.push(n);
    await sleep(1);
    return n * 2;
  }

  @MessagePattern('work.echo')
  echo(@Payload() data: unknown, @Ctx() ctx: RedisTransportContext) {
    return { data, id: ctx.id, pattern: ctx.pattern, hasDeadline: typeof ctx.deadline === 'number' };
  }

  @MessagePattern('work.bytes')
  bytes(@Ctx() ctx: RedisTransportContext) {
    const body = ctx.getBody()!;
    return frame({ length: body.length }, Buffer.from(body).reverse());
  }

  @MessagePattern('work.raw')
  raw(@Ctx() ctx: RedisTransportContext): Buffer {
    return ctx.getBody()!;
  }

  @MessagePattern('work.stream')
  stream(@Payload() count: number): Observable<Buffer> {
    return interval(1).pipe(
      take(count),
      map((i) => Buffer.from(`chunk-${i};`)),
    );
  }

  @MessagePattern('work.burst')
  burst(@Payload() count: number): Observable<unknown> {
    return from(Array.from({ length: count }, (_, i) => ({ i })));
  }

  @MessagePattern('work.reject')
  reject(@Payload() kind: string): unknown {
    if (kind === 'rpc') throw new RpcException({ message: 'bad input', status: 400 });
    if (kind === 'relay') throw new TransportError('remote', 'upstream refused', 503);
    if (kind === 'plain') throw new Error('secret internals');
    return new Observable((sub) => {
      sub.next('before');
      setTimeout(() => sub.error(new RpcException({ message: 'stream broke', status: 502 })), 5);
    });
  }

  @EventPattern('work.note')
  note(@Payload() data: unknown) {
    this.notes.push(data);
  }

  @EventPattern('config.changed')
  configChanged(@Payload() data: unknown) {
    this.events.push(data);
  }
}

/** Handlers that wait for the caller or the server to stop them. */
@Controller()
class SlowController {
  readonly started: string[] = [];
  readonly aborted: string[] = [];
  readonly tornDown: string[] = [];
  readonly finished: string[] = [];

  @MessagePattern('slow.wait')
  wait(@Ctx() ctx: RedisTransportContext): Promise<string> {
    this.started.push(ctx.id);
    return new Promise((resolve) => {
      ctx.signal.addEventListener('abort', () => {
        this.aborted.push(ctx.id);
        resolve('aborted');
      });
    });
  }

  @MessagePattern('slow.stream')
  stream(@Ctx() ctx: RedisTransportContext): Observable<string> {
    return new Observable<string>((sub) => {
      this.started.push(ctx.id);
      sub.next('first');
      return () => this.tornDown.push(ctx.id);
    });
  }

  @MessagePattern('slow.finish')
  async finish(@Payload() ms: number, @Ctx() ctx: RedisTransportContext): Promise<string> {
    this.started.push(ctx.id);
    await sleep(ms);
    this.finished.push(ctx.id);
    return 'done';
  }

  @MessagePattern('slow.big')
  big(@Payload() size: number): Buffer {
    return Buffer.alloc(size, 0x61);
  }

  /** Streams chunks until told to stop, reading its "source" only while the caller keeps up. */
  readonly produced: number[] = [];
  @MessagePattern('slow.flow')
  flow(@Payload() total: number, @Ctx() ctx: RedisTransportContext): Observable<Buffer> {
    return new Observable<Buffer>((sub) => {
      let stopped = false;
      void (async () => {
        for (let i = 0; i < total && !stopped; i++) {
          const paused = ctx.whenWritable();
          if (paused) await paused;
          await sleep(5);
          if (stopped) return;
          this.produced.push(i);
          sub.next(Buffer.from(`${i};`));
        }
        sub.complete();
      })();
      return () => (stopped = true);
    });
  }

  @MessagePattern('slow.hang')
  hang(@Ctx() ctx: RedisTransportContext): Promise<never> {
    this.started.push(ctx.id);
    return new Promise(() => undefined);
  }
}

/** The scheduler-like hop: hands the request (and the reply duty) on. */
@Controller()
class AlphaController {
  readonly ids: string[] = [];
  /** What ctx.getBody() gave each routed request (undefined: a body by reference, not fetched here). */
  readonly bodies: (Buffer | undefined)[] = [];

  @MessagePattern('alpha.route')
  route(@Payload() data: { x: number; to?: string }, @Ctx() ctx: RedisTransportContext) {
    this.ids.push(ctx.id);
    this.bodies.push(ctx.getBody());
    return forward(data.to ?? 'beta.run', { ...data, via: 'alpha' });
  }

  /** Parks the request: it reaches beta only after the delay, without holding a slot here. */
  @MessagePattern('alpha.later')
  later(@Payload() data: { x: number; delayMs: number }) {
    return forward('beta.run', { x: data.x }, undefined, { delayMs: data.delayMs });
  }

  @MessagePattern('alpha.retry')
  async retry(@Payload() data: { attempts: string[] }) {
    await sleep(1);
    return forward('beta.run', { ...data, attempts: [...data.attempts, 'alpha'] }, null);
  }
}

@Controller()
class BetaController {
  readonly ids: string[] = [];

  @MessagePattern('beta.run')
  run(@Payload() data: Record<string, unknown>, @Ctx() ctx: RedisTransportContext) {
    this.ids.push(ctx.id);
    return { data, body: ctx.getBody()?.toString('hex') ?? null };
  }

  @MessagePattern('beta.fail')
  fail(@Payload() data: { attempts: string[] }) {
    return forward('alpha.retry', { attempts: [...data.attempts, 'beta'] });
  }

  /** Reads the body without sending it back: its size, digest, and whether it arrived as bytes. */
  @MessagePattern('beta.digest')
  digest(@Ctx() ctx: RedisTransportContext) {
    this.ids.push(ctx.id);
    const body = ctx.getBody();
    return {
      isBuffer: Buffer.isBuffer(body),
      length: body?.length,
      sha256: body && createHash('sha256').update(body).digest('hex'),
    };
  }

  /** A failed attempt: back to the router, which sends it to beta.digest, body untouched. */
  @MessagePattern('beta.bounce')
  bounce(@Payload() data: { x: number }, @Ctx() ctx: RedisTransportContext) {
    this.ids.push(ctx.id);
    return forward('alpha.route', { x: data.x, to: 'beta.digest' });
  }
}

// ---------------------------------------------------------------------------------------
// Harness

interface Service {
  app: INestMicroservice;
  server: RedisTransportServer;
  get<T>(type: Type<T>): T;
}

const services: Service[] = [];
const clients: RedisTransportClient[] = [];
let redis: Redis;

async function startService(
  controllers: Type[],
  queues: string[],
  options: Partial<RedisTransportServerOptions> = {},
): Promise<Service> {
  @Module({ controllers })
  class ServiceModule {}
  const server = new RedisTransportServer({ redisUrl, keyPrefix: prefix, queues, ...options });
  const app = await NestFactory.createMicroservice(ServiceModule, {
    strategy: server,
    logger: process.env.TRANSPORT_TEST_LOG ? undefined : false,
  });
  await app.listen();
  const service: Service = { app, server, get: (type) => app.get(type) };
  services.push(service);
  return service;
}

function client(
  options: {
    podId?: string;
    idleTimeoutMs?: number;
    defaultDeadlineMs?: number;
    queueLimit?: number;
    bodyRefMinBytes?: number;
  } = {},
): RedisTransportClient {
  const c = new RedisTransportClient({ redisUrl, keyPrefix: prefix, ...options });
  clients.push(c);
  return c;
}

beforeAll(() => {
  redis = new Redis(redisUrl);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(services.splice(0).map((s) => s.app.close()));
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  prefix = `${runPrefix}${randomBytes(3).toString('hex')}:`;
});

afterAll(async () => {
  await redis.quit();
});

prefix = `${runPrefix}${randomBytes(3).toString('hex')}:`;

// ---------------------------------------------------------------------------------------

describe('competing consumers', () => {
  it('hands each of 500 requests to exactly one of two replicas', async () => {
    // A concurrency limit makes it impossible for one replica to take all the work.
    const replicas = [
      await startService([WorkController], ['work'], { concurrency: 20 }),
      await startService([WorkController], ['work'], { concurrency: 20 }),
    ];
    const caller = client();
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, n) => firstValueFrom(caller.request('work.double', n))),
    );

    expect(replies.map((f) => f.meta)).toEqual(Array.from({ length: 500 }, (_, n) => n * 2));
    const seen = replicas.map((r) => r.get(WorkController).seen);
    expect(seen[0].length + seen[1].length).toBe(500);
    expect(seen[0].length).toBeGreaterThan(0);
    expect(seen[1].length).toBeGreaterThan(0);
    expect(new Set([...seen[0], ...seen[1]]).size).toBe(500);
  });

  it('delivers a one-way enqueued message to exactly one replica and ignores the return value', async () => {
    const replicas = [await startService([WorkController], ['work']), await startService([WorkController], ['work'])];
    const caller = client();
    await Promise.all(Array.from({ length: 40 }, (_, n) => caller.enqueue('work.note', { n })));
    await waitFor(() => expect(replicas.flatMap((r) => r.get(WorkController).notes)).toHaveLength(40));
    const notes = replicas.flatMap((r) => r.get(WorkController).notes as Array<{ n: number }>);
    expect(new Set(notes.map((x) => x.n)).size).toBe(40);
    // A @MessagePattern handler works one-way too: nobody waits, nothing is published.
    await caller.enqueue('work.double', 7);
    await waitFor(() => expect(replicas.flatMap((r) => r.get(WorkController).seen)).toContain(7));
  });
});

describe('batched one-way messages', () => {
  it('sends the values given within the delay as one message whose data is their array', async () => {
    const service = await startService([WorkController], ['work']);
    const caller = client();
    await caller.connect();
    const send = caller.batch<{ n: number }>('work.note', { maxDelayMs: 50, maxItems: 4 });
    for (let n = 0; n < 6; n++) send({ n });
    // Four fill a batch at once; the other two wait for the delay.
    await waitFor(() =>
      expect(service.get(WorkController).notes).toEqual([[0, 1, 2, 3].map((n) => ({ n })), [{ n: 4 }, { n: 5 }]]),
    );
  });

  it('sends values still waiting when the client closes', async () => {
    const service = await startService([WorkController], ['work']);
    const caller = client();
    await caller.connect();
    const send = caller.batch<string>('work.note', { maxDelayMs: 60_000 });
    send('a');
    send('b');
    await caller.close();
    await waitFor(() => expect(service.get(WorkController).notes).toEqual([['a', 'b']]));
  });
});

describe('direct replies', () => {
  it('sends each pod only its own replies', async () => {
    await startService([WorkController], ['work']);
    const a = client({ podId: `pod-a-${randomBytes(2).toString('hex')}` });
    const b = client({ podId: `pod-b-${randomBytes(2).toString('hex')}` });
    const tap = new Redis(redisUrl);
    const published: Array<{ channel: string; id: string }> = [];
    tap.on('pmessageBuffer', (_p: unknown, channel: Buffer, message: Buffer) =>
      published.push({ channel: channel.toString(), id: decodeReply(message).id }),
    );
    await tap.psubscribe(`${prefix}reply:*`);
    try {
      const [ra, rb] = await Promise.all([
        Promise.all(Array.from({ length: 50 }, (_, i) => firstValueFrom(a.request('work.echo', `a${i}`)))),
        Promise.all(Array.from({ length: 50 }, (_, i) => firstValueFrom(b.request('work.echo', `b${i}`)))),
      ]);
      expect(ra.map((f) => (f.meta as { data: string }).data)).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
      expect(rb.map((f) => (f.meta as { data: string }).data)).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
      await waitFor(() => expect(published).toHaveLength(100));
      for (const { channel, id } of published) {
        const owner = channel === a.replyChannel ? a : b;
        expect([a.replyChannel, b.replyChannel]).toContain(channel);
        expect(id.startsWith(`${owner.podId}.`)).toBe(true);
      }
    } finally {
      await tap.quit();
    }
  });

  it('tells the handler its id, pattern and deadline', async () => {
    await startService([WorkController], ['work']);
    const reply = await firstValueFrom(client().request('work.echo', { k: 1 }));
    expect(reply.meta).toMatchObject({ data: { k: 1 }, pattern: 'work.echo', hasDeadline: true });
  });
});

describe('streamed replies', () => {
  it('arrive in order and end', async () => {
    await startService([WorkController], ['work']);
    const frames = await lastValueFrom(client().request('work.stream', 40).pipe(toArray()));
    expect(frames.map((f) => f.body!.toString())).toEqual(Array.from({ length: 40 }, (_, i) => `chunk-${i};`));
  });

  it('coalesce frames emitted in the same tick into one Redis message', async () => {
    await startService([WorkController], ['work']);
    const caller = client();
    const tap = new Redis(redisUrl);
    let messages = 0;
    tap.on('message', () => messages++);
    await tap.subscribe(caller.replyChannel);
    try {
      const frames = await lastValueFrom(caller.request('work.burst', 25).pipe(toArray()));
      expect(frames.map((f) => f.meta)).toEqual(Array.from({ length: 25 }, (_, i) => ({ i })));
      await waitFor(() => expect(messages).toBeGreaterThan(0));
      expect(messages).toBe(1);
    } finally {
      await tap.quit();
    }
  });

  it('maps handler errors to error frames with message and status', async () => {
    await startService([WorkController], ['work']);
    const caller = client();
    const failure = (kind: string) =>
      lastValueFrom(caller.request('work.reject', kind).pipe(toArray())).catch((e: unknown) => e);

    expect(await failure('rpc')).toMatchObject({ code: 'remote', message: 'bad input', status: 400 });
    expect(await failure('relay')).toMatchObject({ code: 'remote', message: 'upstream refused', status: 503 });
    // Unknown errors stay behind NestJS's exception filter: no internals reach the caller.
    const plain = (await failure('plain')) as TransportError;
    expect(plain).toBeInstanceOf(TransportError);
    expect(plain.message).not.toContain('secret');

    const seen: unknown[] = [];
    const streamed = await new Promise<unknown>((resolve) =>
      caller.request('work.reject', 'stream').subscribe({ next: (f) => seen.push(f.meta), error: resolve }),
    );
    expect(seen).toEqual(['before']);
    expect(streamed).toMatchObject({ code: 'remote', message: 'stream broke', status: 502 });
  });

  it('answers a pattern nobody handles with an error', async () => {
    await startService([WorkController], ['work']);
    await expect(firstValueFrom(client().request('work.missing', 1))).rejects.toMatchObject({
      code: 'remote',
      status: 501,
    });
  });
});

describe('bodies', () => {
  it('round-trip byte-exact, including non-UTF-8 bytes', async () => {
    await startService([WorkController], ['work']);
    const caller = client();
    const body = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(64 * 1024),
      Buffer.from('\n\r\n{"x":1}\n'),
    ]);
    const reply = await firstValueFrom(caller.request('work.bytes', null, { body }));
    expect(reply.meta).toEqual({ length: body.length });
    expect(reply.body!.equals(Buffer.from(body).reverse())).toBe(true);

    // A Buffer return value is a body-only frame.
    const raw = await firstValueFrom(caller.request('work.raw', {}, { body }));
    expect(raw.meta).toBeUndefined();
    expect(raw.body!.equals(body)).toBe(true);
    // NestJS's send() yields a body-only frame as the Buffer itself.
    const sent = await lastValueFrom(caller.send<Buffer>('work.bytes', {}).pipe(toArray())).catch((e: unknown) => e);
    expect(sent).toBeInstanceOf(TransportError); // no body was sent: the handler fails
  });
});

describe('bodies by reference', () => {
  const large = () => Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x0a]), randomBytes(100 * 1024)]);
  const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');
  const bodyKeys = () => redis.keys(`${prefix}body:*`);

  it('stores a large body once: a routing server never receives it, and the reader gets the exact bytes as a Buffer', async () => {
    const body = large();
    const reply = firstValueFrom(client().request('alpha.route', { x: 1, to: 'beta.digest' }, { body }));
    // Queued before any server runs: the item holds a reference, the bytes sit in one key.
    await waitFor(async () => expect(await redis.xlen(transportKeys.queue(prefix, 'alpha'))).toBe(1));
    const [[, fields]] = (await redis.xrangeBuffer(transportKeys.queue(prefix, 'alpha'), '-', '+')) as [
      Buffer,
      Buffer[],
    ][];
    expect(fields[1]!.length).toBeLessThan(1024);
    const [key] = await bodyKeys();
    expect((await redis.getBuffer(key!))!.equals(body)).toBe(true);

    const alpha = await startService([AlphaController], ['alpha'], { readsBodies: false });
    await startService([BetaController], ['beta']);
    expect((await reply).meta).toEqual({ isBuffer: true, length: body.length, sha256: sha256(body) });
    expect(alpha.get(AlphaController).bodies).toEqual([undefined]);
    // The reply ended: nobody needs the body again.
    await waitFor(async () => expect(await bodyKeys()).toEqual([]));
  });

  it('lets go of a stored body while the reply is still to come (not held for the whole request)', async () => {
    const collect = exposedGc();
    let body: Buffer | undefined = large();
    const held = new WeakRef(body);
    const reply = firstValueFrom(client().request('alpha.route', { x: 1, to: 'beta.digest' }, { body }));
    body = undefined;
    // Stored, and no server runs yet: the request waits for its reply.
    await waitFor(async () => expect(await bodyKeys()).toHaveLength(1));
    await sleep(10);
    collect();
    expect(held.deref()).toBeUndefined();
    await startService([AlphaController], ['alpha'], { readsBodies: false });
    await startService([BetaController], ['beta']);
    expect((await reply).meta).toMatchObject({ isBuffer: true, length: 100 * 1024 + 4 });
  });

  it('keeps the reference across a failed attempt and a second routing, and delivers small bodies inline as before', async () => {
    const alpha = await startService([AlphaController], ['alpha'], { readsBodies: false });
    const beta = await startService([BetaController], ['beta']);
    const body = large();
    const reply = await firstValueFrom(client().request('alpha.route', { x: 2, to: 'beta.bounce' }, { body }));
    expect(reply.meta).toEqual({ isBuffer: true, length: body.length, sha256: sha256(body) });
    expect(alpha.get(AlphaController).bodies).toEqual([undefined, undefined]);
    expect(beta.get(BetaController).ids).toHaveLength(2);

    // Below the threshold a body travels in the message and even a routing server sees it.
    const small = Buffer.from('{"model":"m"}');
    const inline = await firstValueFrom(client().request('alpha.route', { x: 3, to: 'beta.digest' }, { body: small }));
    expect(inline.meta).toEqual({ isBuffer: true, length: small.length, sha256: sha256(small) });
    expect(alpha.get(AlphaController).bodies[2]!.equals(small)).toBe(true);
    // bodyRefMinBytes 0: never by reference.
    const always = await firstValueFrom(
      client({ bodyRefMinBytes: 0 }).request('alpha.route', { x: 4, to: 'beta.digest' }, { body }),
    );
    expect(always.meta).toEqual({ isBuffer: true, length: body.length, sha256: sha256(body) });
    expect(alpha.get(AlphaController).bodies[3]!.equals(body)).toBe(true);
    await waitFor(async () => expect(await bodyKeys()).toEqual([]));
  });

  it('stores nothing for a request its full queue refuses, and deletes the body of a cancelled one', async () => {
    const refusing = client({ queueLimit: 1 });
    await pushItem('slow', encodeRequest({ id: 'filler', pattern: 'slow.wait', data: {} }));
    await expect(firstValueFrom(refusing.request('slow.wait', {}, { body: large() }))).rejects.toMatchObject({
      code: 'overloaded',
    });
    expect(await bodyKeys()).toEqual([]);

    const svc = await startService([SlowController], ['slow']);
    const subscription = client()
      .request('slow.wait', {}, { body: large() })
      .subscribe({ error: () => undefined });
    await waitFor(() => expect(svc.get(SlowController).started).toHaveLength(2));
    expect(await bodyKeys()).toHaveLength(1);
    subscription.unsubscribe();
    await waitFor(async () => expect(await bodyKeys()).toEqual([]));
  });

  it('answers 503 without running the handler when the stored body is gone', async () => {
    const reply = firstValueFrom(client().request('beta.digest', {}, { body: large() }));
    await waitFor(async () => expect(await bodyKeys()).toHaveLength(1));
    await redis.del(...(await bodyKeys()));
    const beta = await startService([BetaController], ['beta']);
    await expect(reply).rejects.toMatchObject({
      code: 'remote',
      status: 503,
      message: expect.stringMatching(/no longer stored/),
    });
    expect(beta.get(BetaController).ids).toEqual([]);
    await waitFor(async () => expect(await waiting('beta')).toBe(0));
    expect(await redis.xlen(transportKeys.queue(prefix, 'beta'))).toBe(0);
  });

  it('answers 503 without running the handler when Redis will not give the body out', async () => {
    // A Redis user allowed everything but GET: the reader's fetch fails, as on a lost connection.
    const user = `cpa-test-noget-${process.pid}`;
    await redis.call('ACL', 'SETUSER', user, 'on', '>noget-secret', '~*', '&*', '+@all', '-get');
    try {
      const url = new URL(redisUrl);
      url.username = user;
      url.password = 'noget-secret';
      const beta = await startService([BetaController], ['beta'], { redisUrl: url.toString() });
      await expect(firstValueFrom(client().request('beta.digest', {}, { body: large() }))).rejects.toMatchObject({
        code: 'remote',
        status: 503,
        message: expect.stringMatching(/could not be read/),
      });
      expect(beta.get(BetaController).ids).toEqual([]);
      // Refused, not left to be delivered again: nothing waits in the queue.
      await waitFor(async () => expect(await waiting('beta')).toBe(0));
    } finally {
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});

describe('NestJS client API', () => {
  it('send() yields frame metas', async () => {
    await startService([WorkController], ['work']);
    const caller = client();
    expect(await lastValueFrom(caller.send('work.double', 21))).toBe(42);
  });

  it('TransportModule provides an injectable client that talks to a server', async () => {
    await startService([WorkController], ['work']);
    @Injectable()
    class Asker {
      constructor(readonly transport: RedisTransportClient) {}
    }
    @Module({ imports: [TransportModule.forRoot({ redisUrl, keyPrefix: prefix })], providers: [Asker] })
    class AskerModule {}
    const ctx: INestApplicationContext = await NestFactory.createApplicationContext(AskerModule, { logger: false });
    try {
      const asker = ctx.get(Asker);
      expect(asker.transport).toBeInstanceOf(RedisTransportClient);
      expect((await firstValueFrom(asker.transport.request('work.double', 4))).meta).toBe(8);
    } finally {
      await ctx.close();
    }
    expect(createTransportClient({ keyPrefix: prefix })).toBeInstanceOf(RedisTransportClient);
  });
});

describe('forwarding', () => {
  it('moves the reply duty to the next service, keeping id and body', async () => {
    const alpha = await startService([AlphaController], ['alpha']);
    const beta = await startService([BetaController], ['beta']);
    const body = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]);
    const reply = await firstValueFrom(client().request('alpha.route', { x: 1 }, { body }));
    expect(reply.meta).toEqual({ data: { x: 1, via: 'alpha' }, body: 'dead00beef' });
    expect(beta.get(BetaController).ids).toEqual(alpha.get(AlphaController).ids);
  });

  it('can bounce back and forth (a failed attempt returns to the router) and drop the body', async () => {
    await startService([AlphaController], ['alpha']);
    await startService([BetaController], ['beta']);
    const reply = await firstValueFrom(
      client().request('alpha.route', { x: 2, to: 'beta.fail', attempts: [] }, { body: Buffer.from('b') }),
    );
    expect(reply.meta).toEqual({ data: { attempts: ['beta', 'alpha'] }, body: null });
  });
});

describe('cancellation', () => {
  it("reaches the handler's signal when the caller unsubscribes", async () => {
    const svc = await startService([SlowController], ['slow']);
    const slow = svc.get(SlowController);
    const subscription = client().request('slow.wait', {}).subscribe();
    await waitFor(() => expect(slow.started).toHaveLength(1));
    subscription.unsubscribe();
    await waitFor(() => expect(slow.aborted).toEqual(slow.started));
    await waitFor(() => expect(svc.server.inFlight).toBe(0));
  });

  it("unsubscribes the handler's Observable", async () => {
    const svc = await startService([SlowController], ['slow']);
    const slow = svc.get(SlowController);
    const first = new Subject<void>();
    const subscription = client()
      .request('slow.stream', {})
      .subscribe(() => first.next());
    await firstValueFrom(first);
    subscription.unsubscribe();
    await waitFor(() => expect(slow.tornDown).toEqual(slow.started));
  });

  it('follows the request after it was forwarded', async () => {
    await startService([AlphaController], ['alpha']);
    const svc = await startService([SlowController], ['slow']);
    const slow = svc.get(SlowController);
    const subscription = client().request('alpha.route', { x: 1, to: 'slow.wait' }).subscribe();
    await waitFor(() => expect(slow.started).toHaveLength(1));
    subscription.unsubscribe();
    await waitFor(() => expect(slow.aborted).toEqual(slow.started));
  });

  it('skips a request that was cancelled while still queued', async () => {
    // One slot: the second request waits in the queue while the first one runs.
    const svc = await startService([SlowController], ['slow'], { concurrency: 1 });
    const slow = svc.get(SlowController);
    const caller = client();
    const first = firstValueFrom(caller.request('slow.finish', 300));
    await waitFor(() => expect(slow.started).toHaveLength(1));
    const queued = caller.request('slow.finish', 1).subscribe();
    await waitFor(async () => expect(await waiting('slow')).toBe(1));
    queued.unsubscribe();
    expect((await first).meta).toBe('done');
    expect((await firstValueFrom(caller.request('slow.finish', 1))).meta).toBe('done');
    expect(slow.started).toHaveLength(2);
    expect(slow.finished).toEqual(slow.started);
  });
});

describe('broadcast events', () => {
  it('reach every replica', async () => {
    const replicas = [
      await startService([WorkController], ['work']),
      await startService([WorkController], ['other']),
      await startService([WorkController], []),
    ];
    await lastValueFrom(client().emit('config.changed', { version: 7 }), { defaultValue: undefined });
    for (const r of replicas) await waitFor(() => expect(r.get(WorkController).events).toEqual([{ version: 7 }]));
  });
});

describe('deadlines', () => {
  it('error the caller when the reply does not end in time, and abort the handler', async () => {
    const svc = await startService([SlowController], ['slow']);
    const error = await lastValueFrom(client().request('slow.wait', {}, { deadline: Date.now() + 300 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'deadline' });
    await waitFor(() => expect(svc.get(SlowController).aborted).toHaveLength(1));
  });

  it('make servers skip items that expired in the queue', async () => {
    await pushItem(
      'slow',
      encodeRequest({ id: 'expired-1', pattern: 'slow.finish', replyTo: 'nobody', deadline: Date.now() - 1, data: 1 }),
    );
    const svc = await startService([SlowController], ['slow']);
    expect((await firstValueFrom(client().request('slow.finish', 1))).meta).toBe('done');
    expect(svc.get(SlowController).started).toHaveLength(1);
    expect(svc.get(SlowController).started[0]).not.toBe('expired-1');
  });
});

describe('a handler that dies mid-stream', () => {
  it('gives the caller an error frame when its server shuts down', async () => {
    const svc = await startService([SlowController], ['slow'], { drainTimeoutMs: 100 });
    const frames: unknown[] = [];
    const result = new Promise<unknown>((resolve) =>
      client()
        .request('slow.stream', {})
        .subscribe({ next: (f) => frames.push(f.meta), error: resolve, complete: () => resolve('completed') }),
    );
    await waitFor(() => expect(frames).toEqual(['first']));
    await svc.app.close();
    expect(await result).toMatchObject({ code: 'remote', status: 503 });
    expect(svc.get(SlowController).tornDown).toHaveLength(1);
  });

  it('gives the caller a lost error when its server vanishes without a word', async () => {
    const svc = await startService([SlowController], ['slow'], { drainTimeoutMs: 50 });
    const caller = client({ idleTimeoutMs: 400 });
    const frames: unknown[] = [];
    const result = new Promise<unknown>((resolve) =>
      caller
        .request('slow.stream', {})
        .subscribe({ next: (f) => frames.push(f.meta), error: resolve, complete: () => resolve('completed') }),
    );
    await waitFor(() => expect(frames).toEqual(['first']));
    // A crash: every connection drops at once, nothing more is published.
    const { cmd, pop, sub } = svc.server.unwrap<Record<string, Redis>>();
    for (const connection of [cmd, pop, sub]) connection.disconnect();
    expect(await result).toMatchObject({ code: 'lost' });
  });

  it('without an idle timeout, still ends at the deadline', async () => {
    await startService([SlowController], ['slow']);
    const result = await lastValueFrom(client().request('slow.hang', {}, { deadline: Date.now() + 400 })).catch(
      (e: unknown) => e,
    );
    expect(result).toMatchObject({ code: 'deadline' });
  });

  it('heartbeats keep a quiet but live reply from idling out', async () => {
    await startService([SlowController], ['slow'], { heartbeatMs: 100 });
    const caller = client({ idleTimeoutMs: 400 });
    expect((await firstValueFrom(caller.request('slow.finish', 1000))).meta).toBe('done');
  });
});

describe('replies of any size, to callers that may be gone', () => {
  it('frames a 5 MiB reply into messages of at most 1 MiB and hands the caller the whole body', async () => {
    await startService([SlowController], ['slow']);
    const monitor = new Redis(redisUrl);
    const sizes: number[] = [];
    await monitor.psubscribe(`${prefix}reply:*`);
    monitor.on('pmessageBuffer', (_p: Buffer, _c: Buffer, message: Buffer) => sizes.push(message.length));
    try {
      const frames = await lastValueFrom(
        client()
          .request('slow.big', 5 * 1024 * 1024)
          .pipe(toArray()),
      );
      expect(frames).toHaveLength(1);
      expect(frames[0]!.body!.length).toBe(5 * 1024 * 1024);
      expect(frames[0]!.body!.every((b) => b === 0x61)).toBe(true);
      // The monitor is another connection: its copies may still be on their way when the caller has them all.
      await waitFor(() => expect(sizes.length).toBeGreaterThanOrEqual(5));
      expect(Math.max(...sizes)).toBeLessThanOrEqual(1024 * 1024);
    } finally {
      await monitor.quit();
    }
  });

  it('stops the work when its reply reaches no subscriber (the caller is gone)', async () => {
    const svc = await startService([SlowController], ['slow'], { heartbeatMs: 100 });
    const slow = svc.get(SlowController);
    // A caller that queues a request and vanishes without a cancel: nobody listens on its reply channel.
    await pushItem(
      'slow',
      encodeRequest({
        id: 'ghost.1',
        pattern: 'slow.wait',
        replyTo: `${prefix}reply:ghost`,
        deadline: Date.now() + 60_000,
        data: {},
      }),
    );
    await waitFor(() => expect(slow.aborted).toContain('ghost.1'));
    expect(slow.started).toContain('ghost.1');

    // Its body stored by reference goes too: the caller that would have deleted it is gone.
    const bodyKey = transportKeys.body(prefix, 'ghost.2');
    await redis.set(bodyKey, randomBytes(20 * 1024), 'PX', 60_000);
    await pushItem(
      'slow',
      encodeRequest({
        id: 'ghost.2',
        pattern: 'slow.wait',
        replyTo: `${prefix}reply:ghost`,
        deadline: Date.now() + 60_000,
        data: {},
        bodyRef: true,
      }),
    );
    await waitFor(() => expect(slow.aborted).toContain('ghost.2'));
    await waitFor(async () => expect(await redis.exists(bodyKey)).toBe(0));
  });
});

describe('graceful close', () => {
  it('stops popping and lets in-flight handlers finish', async () => {
    const svc = await startService([SlowController], ['slow']);
    const slow = svc.get(SlowController);
    const caller = client();
    const reply = firstValueFrom(caller.request('slow.finish', 300));
    await waitFor(() => expect(slow.started).toHaveLength(1));
    const closed = svc.app.close();
    expect((await reply).meta).toBe('done');
    await closed;
    expect(slow.finished).toHaveLength(1);

    // Nothing consumes the queue any more: a new request stays there.
    const late = caller.request('slow.finish', 1).subscribe({ error: () => undefined });
    await waitFor(async () => expect(await waiting('slow')).toBe(1));
    late.unsubscribe();
    expect(slow.started).toHaveLength(1);
  });

  it('errors waiting calls with code closed when the client closes', async () => {
    await startService([SlowController], ['slow']);
    const caller = client();
    const result = lastValueFrom(caller.request('slow.hang', {})).catch((e: unknown) => e);
    await sleep(50);
    await caller.close();
    expect(await result).toMatchObject({ code: 'closed' });
  });
});

describe('bounded queues', () => {
  it('refuses a request at once when its queue is full, counted by the client and in Redis', async () => {
    const caller = new RedisTransportClient({ redisUrl, keyPrefix: prefix, queueLimit: 3 });
    clients.push(caller);
    // No consumer: the first three wait in the queue.
    const waitingCalls = Array.from({ length: 3 }, (_, n) =>
      caller.request('slow.finish', n).subscribe({ error: () => undefined }),
    );
    await waitFor(async () => expect(await waiting('slow')).toBe(3));
    const started = Date.now();
    const refused = await firstValueFrom(caller.request('slow.finish', 9)).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused).toBeInstanceOf(TransportError);
    expect(refused).toMatchObject({ code: 'overloaded', status: 503 });
    await expect(caller.enqueue('slow.finish', 10)).rejects.toMatchObject({ code: 'overloaded' });
    expect(caller.refusedCount).toBe(2);
    expect(Number(await redis.get(transportKeys.refused(prefix, 'slow')))).toBe(2);
    expect(await waiting('slow')).toBe(3);

    // Once a consumer drains the queue, requests are taken again.
    await startService([SlowController], ['slow']);
    await waitFor(async () => expect(await redis.xlen(transportKeys.queue(prefix, 'slow'))).toBe(0));
    expect((await firstValueFrom(caller.request('slow.finish', 1))).meta).toBe('done');
    for (const call of waitingCalls) call.unsubscribe();
  });

  it('answers 503 when a forward finds the next queue full', async () => {
    await startService([AlphaController], ['alpha'], { queueLimit: 1 });
    const caller = client();
    // Nobody consumes beta: the first forward fills it.
    const first = caller.request('alpha.route', { x: 1 }).subscribe({ error: () => undefined });
    await waitFor(async () => expect(await waiting('beta')).toBe(1));
    const error = await firstValueFrom(caller.request('alpha.route', { x: 2 })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'remote', status: 503 });
    expect((error as Error).message).toMatch(/beta queue is full/);
    first.unsubscribe();
  });
});

describe('delayed forwards', () => {
  it('park the request in Redis, hold no slot while waiting, and keep its caller from idling out', async () => {
    const alpha = await startService([AlphaController], ['alpha']);
    await startService([BetaController], ['beta']);
    // The idle timeout is shorter than the delay: the parked request's quiet period covers it.
    const caller = client({ idleTimeoutMs: 300 });
    const started = Date.now();
    const reply = firstValueFrom(caller.request('alpha.later', { x: 5, delayMs: 800 }, { body: Buffer.from('kept') }));
    await waitFor(async () => expect(await redis.zcard(transportKeys.delayed(prefix, 'beta'))).toBe(1));
    expect(alpha.server.inFlight).toBe(0);
    const frame = await reply;
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(frame.meta).toEqual({ data: { x: 5 }, body: Buffer.from('kept').toString('hex') });
    expect(await redis.zcard(transportKeys.delayed(prefix, 'beta'))).toBe(0);
  });

  it('are moved to their queue by any live consumer of it, also when the one that parked them is gone', async () => {
    const alpha = await startService([AlphaController], ['alpha']);
    const caller = client();
    const reply = firstValueFrom(caller.request('alpha.later', { x: 6, delayMs: 300 }));
    await waitFor(async () => expect(await redis.zcard(transportKeys.delayed(prefix, 'beta'))).toBe(1));
    await alpha.app.close();
    await startService([BetaController], ['beta']);
    expect((await reply).meta).toMatchObject({ data: { x: 6 } });
  });
});

describe('queues read together', () => {
  it('serve a quiet queue while another has a backlog (results do not wait behind requests)', async () => {
    const svc = await startService([SlowController, WorkController], ['slow', 'work'], {
      concurrency: 4,
      batchSize: 4,
    });
    const caller = client();
    const backlog = Array.from({ length: 60 }, () => firstValueFrom(caller.request('slow.finish', 50)));
    await waitFor(() => expect(svc.get(SlowController).started.length).toBeGreaterThan(0));
    const started = Date.now();
    await caller.enqueue('work.note', 'result');
    await waitFor(() => expect(svc.get(WorkController).notes).toEqual(['result']));
    // The backlog needs 60 x 50 ms / 4 slots = 750 ms; the note got in long before.
    expect(Date.now() - started).toBeLessThan(400);
    expect(svc.get(SlowController).finished.length).toBeLessThan(50);
    await Promise.all(backlog);
  });
});

describe('backpressure', () => {
  it('pauses a streaming handler while its caller asks, and resumes it', async () => {
    const svc = await startService([SlowController], ['slow']);
    const slow = svc.get(SlowController);
    const flow = new ReplyFlow();
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) =>
      client()
        .request('slow.flow', 40, { flow })
        .subscribe({ next: (f) => received.push(f.body!.toString()), error: reject, complete: resolve }),
    );
    await waitFor(() => expect(received.length).toBeGreaterThanOrEqual(3));
    flow.pause();
    await sleep(150);
    const whilePaused = slow.produced.length;
    await sleep(300);
    // At most the chunk that was being read when the pause arrived.
    expect(slow.produced.length - whilePaused).toBeLessThanOrEqual(1);
    expect(slow.produced.length).toBeLessThan(40);
    flow.resume();
    await done;
    expect(received.join('')).toBe(Array.from({ length: 40 }, (_, i) => `${i};`).join(''));
  });
});
