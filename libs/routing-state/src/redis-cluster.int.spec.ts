import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Cluster } from 'ioredis';
import { interval, lastValueFrom, map, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CatalogStore, snapshotOf, type Catalog, type CatalogDocument } from '@cpa/catalog';
import { testCredential } from '@cpa/catalog/testing';
import { Patterns, type RouteRequest } from '@cpa/contracts';
import { LocalRedisCluster, redisClusterToolsAvailable } from '@cpa/testing';
import {
  createRedis,
  forward,
  isForward,
  RedisTransportClient,
  RedisTransportServer,
  TransportError,
  type Forward,
  type Frame,
} from '@cpa/transport';
import { DispatchService } from './dispatch.service';
import { RoutingStateStore } from './routing-state.store';
import type { ScheduledAttempt } from './scheduled-attempt';

/**
 * The transport, the routing state and the catalog snapshot on a real three-master Redis
 * Cluster (started here from Debian's redis-server; skipped when it cannot run). With the
 * hash-tagged prefix every script stays in one slot, and replies use sharded pub/sub.
 */
const available = redisClusterToolsAvailable();
const prefix = `{cpa-test-${randomBytes(3).toString('hex')}}:`;
const consumerFixture = resolve(__dirname, '../../transport/src/__fixtures__/consumer.mjs');

@Controller()
class ClusterWork {
  readonly notes: unknown[] = [];

  @MessagePattern('cl.double')
  double(@Payload() n: number): number {
    return n * 2;
  }

  @MessagePattern('cl.stream')
  stream(@Payload() count: number) {
    return interval(2).pipe(
      take(count),
      map((i) => Buffer.from(`chunk-${i};`)),
    );
  }

  /** Hands the request on to another queue (the FORWARD script: two queues, one slot). */
  @MessagePattern('cl.handoff')
  handoff(@Payload() n: number): Forward {
    return forward('cl2.square', n);
  }

  @MessagePattern('cl2.square')
  square(@Payload() n: number): number {
    return n * n;
  }

  @EventPattern('cl.note')
  note(@Payload() data: unknown): void {
    this.notes.push(data);
  }
}

@Module({ controllers: [ClusterWork] })
class ClusterWorkModule {}

describe.skipIf(!available)('on a three-master Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let app: INestMicroservice;
  let client: RedisTransportClient;
  const children: ChildProcess[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    cluster = await LocalRedisCluster.start(3);
    app = await NestFactory.createMicroservice(ClusterWorkModule, {
      strategy: new RedisTransportServer({
        redisUrl: cluster.url,
        keyPrefix: prefix,
        queues: ['cl', 'cl2'],
        heartbeatMs: 200,
      }),
      logger: false,
    });
    await app.listen();
    client = new RedisTransportClient({ redisUrl: cluster.url, keyPrefix: prefix, idleTimeoutMs: 4_000 });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.allSettled([...closers.map((close) => close()), client?.close(), app?.close()]);
    await cluster?.stop();
  }, 30_000);

  it('really is a cluster whose masters own different slots, and refuses an untagged prefix', async () => {
    const probe = createRedis(cluster.url);
    closers.push(() => probe.quit());
    expect(probe).toBeInstanceOf(Cluster);
    const slots = (await (probe as Cluster).cluster('SLOTS')) as unknown[];
    expect(slots).toHaveLength(3);
    expect(() => new RedisTransportClient({ redisUrl: cluster.url, keyPrefix: 'cpa:' })).toThrow(/hash tag/);
  });

  it('answers requests, streams frames in order, hands work on across queues and delivers events', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, n) => lastValueFrom(client.send<number>('cl.double', n))),
    );
    expect(answers).toEqual(Array.from({ length: 50 }, (_, n) => n * 2));

    // A streamed reply: every frame went out by SPUBLISH, whose receiver count must see the caller
    // (a count of 0 would make the server abort the stream as if the caller were gone).
    const chunks = await lastValueFrom(client.request('cl.stream', 40).pipe(toArray()));
    expect(chunks.map((f) => f.body!.toString()).join('')).toBe(
      Array.from({ length: 40 }, (_, i) => `chunk-${i};`).join(''),
    );

    expect(await lastValueFrom(client.send<number>('cl.handoff', 12))).toBe(144);

    const controller = app.get(ClusterWork);
    await lastValueFrom(client.emit('cl.note', { hello: 'cluster' }));
    await vi.waitFor(() => expect(controller.notes).toEqual([{ hello: 'cluster' }]), { timeout: 5_000 });
  });

  it('delivers the unstarted items of a consumer killed mid-batch again to a live one', async () => {
    // The consumer fixture runs the built transport.
    execFileSync(
      process.execPath,
      [resolve(__dirname, '../../../node_modules/typescript/bin/tsc'), '-b', resolve(__dirname, '../../transport')],
      { stdio: 'inherit' },
    );
    const start = async (holdMs: number): Promise<{ child: ChildProcess; name: string }> => {
      const child = spawn(process.execPath, [consumerFixture], {
        env: {
          ...process.env,
          REDIS_URL: cluster.url,
          KEY_PREFIX: prefix,
          CONSUMER_TTL_MS: '1000',
          HOLD_MS: String(holdMs),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const name = await new Promise<string>((ready, fail) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = /READY (\S+)/.exec(out);
          if (line) ready(line[1]!);
        });
        child.once('exit', (code) => fail(new Error(`consumer exited with ${code} before it was ready`)));
      });
      return { child, name };
    };
    const log = createRedis(cluster.url);
    closers.push(() => log.quit());

    const doomed = await start(60_000);
    const total = 10;
    const outcomes = Array.from({ length: total }, (_, n) =>
      lastValueFrom(client.request('crash.work', { n, start: false })).then(
        (frame: Frame) => (frame.meta as { by: string }).by,
        (err: TransportError) => `error:${err.code}`,
      ),
    );
    await vi.waitFor(async () => expect(await log.llen(`${prefix}log`)).toBe(total), { timeout: 15_000, interval: 50 });
    const live = await start(10);
    doomed.child.kill('SIGKILL');
    expect(await Promise.all(outcomes)).toEqual(Array.from({ length: total }, () => live.name));
    const steps = await log.lrange(`${prefix}log`, 0, -1);
    expect(steps.filter((s) => s.startsWith(`${live.name}|`) && s.endsWith('|done'))).toHaveLength(total);
    expect(steps.filter((s) => s.startsWith(`${doomed.name}|`) && !s.endsWith('|taken'))).toEqual([]);
  }, 40_000);

  it('picks credentials round-robin and keeps session bindings across scheduler replicas', async () => {
    const model = 'claude-sonnet-4-5';
    const credential = (id: string) => testCredential(id, { models: [{ name: model, alias: model }] });
    const catalog = {
      snapshot: snapshotOf([credential('a'), credential('b'), credential('c')], { 'routing.session-affinity': true }),
    };
    const schedulers = [0, 1].map(() => {
      const store = new RoutingStateStore({ redisUrl: cluster.url, keyPrefix: prefix });
      closers.push(() => store.close());
      return new DispatchService(catalog as unknown as Catalog, store);
    });
    const route = (over: Partial<RouteRequest> = {}): RouteRequest => ({
      requestId: randomUUID(),
      clientFormat: 'claude',
      model,
      stream: false,
      sessionIds: [],
      headers: {},
      deadline: Date.now() + 60_000,
      ...over,
    });
    const credentialOf = (result: Forward | Frame): string => {
      if (!isForward(result)) throw new Error('expected a forward to an executor');
      expect(result.pattern).toBe(Patterns.execute('claude'));
      return (result.data as ScheduledAttempt).credentialId;
    };

    const picks = await Promise.all(Array.from({ length: 60 }, (_, i) => schedulers[i % 2]!.dispatch(route())));
    const counts = picks
      .map(credentialOf)
      .reduce<Record<string, number>>((acc, id) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }), {});
    expect(counts).toEqual({ a: 20, b: 20, c: 20 });

    const session = await Promise.all(
      Array.from({ length: 20 }, (_, i) => schedulers[i % 2]!.dispatch(route({ sessionIds: ['claude:s-1'] }))),
    );
    expect(new Set(session.map(credentialOf)).size).toBe(1);
  });

  it('stores and reads the catalog snapshot', async () => {
    const store = new CatalogStore(cluster.url, prefix);
    closers.push(async () => store.onModuleDestroy());
    const generation = await store.nextGeneration();
    expect(await store.generation()).toBe(0);
    const document: CatalogDocument = {
      generation,
      publishedAt: Date.now(),
      credentials: [],
      settings: { 'routing.strategy': 'round-robin' },
      clientKeys: [],
    };
    expect(await store.write(document)).toBe(true);
    expect(await store.write({ ...document, generation: generation - 1 })).toBe(false);
    expect(await store.readNewer(0)).toEqual(document);
  });
});
