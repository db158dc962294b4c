import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  frame,
  RedisTransportClient,
  RedisTransportServer,
  ReplyFlow,
  type Frame,
  type RedisTransportContext,
} from '@cpa/transport';
import { relayFrames } from './relay';

/**
 * Backpressure end to end over the real transport: an HTTP client that stops reading makes
 * the gateway's relay pause the handler (which stops reading its source, as an executor
 * stops reading the upstream), and one that reads nothing for long is cut off.
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}relay:${randomBytes(3).toString('hex')}:`;
const CHUNK = Buffer.alloc(16 * 1024, 0x61);

@Controller()
class StreamController {
  produced = 0;
  pauses = 0;
  aborted = 0;

  /** Emits `count` chunks, one per `everyMs`, reading the next one only while the caller keeps up (unless told to ignore it). */
  @MessagePattern('bp.stream')
  stream(
    @Payload() { count, everyMs, ignoreFlow }: { count: number; everyMs: number; ignoreFlow: boolean },
    @Ctx() ctx: RedisTransportContext,
  ): Observable<Frame> {
    ctx.signal.addEventListener('abort', () => this.aborted++);
    return new Observable<Frame>((sub) => {
      let stopped = false;
      void (async () => {
        sub.next(frame({ status: 200, headers: { 'content-type': 'text/event-stream' } }));
        for (let i = 0; i < count && !stopped; i++) {
          const paused = ctx.whenWritable();
          if (paused) {
            this.pauses++;
            if (!ignoreFlow) await paused;
          }
          await new Promise((resolve) => setTimeout(resolve, everyMs));
          if (stopped) return;
          this.produced += CHUNK.length;
          sub.next(frame(undefined, CHUNK));
        }
        sub.complete();
      })();
      return () => (stopped = true);
    });
  }
}

@Module({ controllers: [StreamController] })
class StreamModule {}

let redis: Redis;
let service: INestMicroservice;
let transport: RedisTransportClient;
let http: Server;
let port: number;
const responses: ServerResponse[] = [];
const relays: Promise<void>[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  redis = new Redis(redisUrl);
  service = await NestFactory.createMicroservice(StreamModule, {
    strategy: new RedisTransportServer({ redisUrl, keyPrefix: prefix, queues: ['bp'], heartbeatMs: 200 }),
    logger: false,
  });
  await service.listen();
  transport = new RedisTransportClient({ redisUrl, keyPrefix: prefix, idleTimeoutMs: 5_000 });
  await transport.connect();
  http = createServer((req, res) => {
    const flow = new ReplyFlow();
    const query = new URL(req.url!, 'http://x').searchParams;
    const data = {
      count: Number(query.get('chunks')),
      everyMs: Number(query.get('every') ?? 1),
      ignoreFlow: query.has('ignore-flow'),
    };
    responses.push(res);
    relays.push(
      relayFrames(transport.request('bp.stream', data, { flow }), res, 'openai-chat', flow, {
        bufferLimitBytes: Number(query.get('bound') ?? 1024 * 1024),
        stallTimeoutMs: 1_500,
      }),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as AddressInfo).port;
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  const controller = service.get(StreamController);
  controller.produced = controller.pauses = controller.aborted = 0;
  responses.length = 0;
  relays.length = 0;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  await transport.close();
  await service.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** A raw HTTP client, so the test decides when (and whether) it reads. */
function get(path: string): Socket {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
  return socket;
}

describe('a client that stops reading', () => {
  it('pauses the handler, so nothing is buffered without bound, and is cut off (work aborted) after the stall timeout', async () => {
    const controller = service.get(StreamController);
    const socket = get('/?chunks=1000000&every=2');
    socket.pause(); // reads nothing, ever
    await vi.waitFor(() => expect(controller.pauses).toBeGreaterThan(0), { timeout: 10_000 });
    const pausedAt = Date.now();
    const atPause = controller.produced;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Bounded: what the kernel's socket buffers and the relay's limit hold, nowhere near the 16 GB asked for.
    expect(controller.produced - atPause).toBeLessThanOrEqual(2 * CHUNK.length);
    expect(controller.produced).toBeLessThan(64 * 1024 * 1024);
    expect(responses[0]!.writableLength).toBeLessThanOrEqual(1024 * 1024 + CHUNK.length);

    // After the stall timeout the request is cancelled (the handler's signal aborts) and the connection closed.
    await vi.waitFor(() => expect(controller.aborted).toBe(1), { timeout: 10_000 });
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(1_400);
    await relays[0];
    expect(responses[0]!.destroyed).toBe(true);
  });

  it('cuts off a reply whose unread bytes pass the bound when the producer does not pause', async () => {
    const controller = service.get(StreamController);
    get('/?chunks=1000000&every=0&ignore-flow').pause();
    await vi.waitFor(() => expect(controller.aborted).toBe(1), { timeout: 10_000 });
    await relays[0];
    expect(responses[0]!.destroyed).toBe(true);
    // Cut off well before the stall timeout, with the buffer at the bound, not beyond.
    expect(controller.produced).toBeLessThan(64 * 1024 * 1024);
  });

  it('resumes when the client reads again, and delivers every byte', async () => {
    const controller = service.get(StreamController);
    const chunks = 400; // 6.4 MiB
    const socket = get(`/?chunks=${chunks}&every=1&bound=${8 * 1024 * 1024}`);
    let received = 0;
    socket.on('data', (data: Buffer) => (received += data.length));
    socket.pause(); // a client busy elsewhere for a while (shorter than the stall timeout)
    await vi.waitFor(() => expect(controller.pauses).toBeGreaterThan(0), { timeout: 10_000 });
    const atPause = controller.produced;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(controller.produced - atPause).toBeLessThanOrEqual(2 * CHUNK.length);
    socket.resume();
    await vi.waitFor(() => expect(controller.produced).toBe(chunks * CHUNK.length), { timeout: 30_000 });
    await relays[0];
    await vi.waitFor(() => expect(received).toBeGreaterThan(chunks * CHUNK.length), { timeout: 20_000 });
    expect(responses[0]!.writableFinished).toBe(true);
    expect(controller.aborted).toBe(0);
  });
});
