// Round-trip micro-benchmark of @cpa/transport (not part of the tests).
//   npx tsc -b libs/transport && node libs/transport/bench/roundtrip.mjs [requests=20000]
// The caller runs here, the handler service in a child process (a NestJS microservice with
// one @MessagePattern), both against REDIS_URL. Prints requests/s, latency percentiles and
// CPU time per request of caller, handler and Redis.
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { RedisTransportClient, RedisTransportServer, frame } = require('../dist/index.js');
const { Controller, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { MessagePattern, Ctx } = require('@nestjs/microservices');
const { Redis } = require('ioredis');
const { firstValueFrom, lastValueFrom, toArray } = require('rxjs');

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = process.env.BENCH_KEY_PREFIX ?? `bench:${process.pid}:`;
const total = Number(process.argv[2] ?? 20000);

async function serve() {
  class Bench {
    echo(ctx) {
      return frame({ status: 200 }, ctx.getBody());
    }
    stream(ctx) {
      const body = ctx.getBody();
      return new (require('rxjs').Observable)((sub) => {
        let i = 0;
        const tick = () => (i++ < 5 ? (sub.next(body), globalThis.setImmediate(tick)) : sub.complete());
        tick();
      });
    }
  }
  for (const [name, pattern] of [
    ['echo', 'bench.echo'],
    ['stream', 'bench.stream'],
  ]) {
    Ctx()(Bench.prototype, name, 0);
    MessagePattern(pattern)(Bench.prototype, name, Object.getOwnPropertyDescriptor(Bench.prototype, name));
  }
  Controller()(Bench);
  class BenchModule {}
  Module({ controllers: [Bench] })(BenchModule);
  const app = await NestFactory.createMicroservice(BenchModule, {
    strategy: new RedisTransportServer({ redisUrl, keyPrefix, queues: ['bench'] }),
    logger: false,
  });
  await app.listen();
  process.send({ ready: true });
  process.on('message', async (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (m === 'stop') {
      await app.close();
      process.exit(0);
    }
  });
}

const cpuMs = (u) => (u.user + u.system) / 1000;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

async function redisCpuMs(redis) {
  const info = await redis.info('cpu');
  const get = (k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)[1]);
  return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
}

async function main() {
  const child = fork(fileURLToPath(import.meta.url), [String(total)], {
    env: { ...process.env, BENCH_ROLE: 'server', BENCH_KEY_PREFIX: keyPrefix },
  });
  await new Promise((resolve) => child.once('message', resolve));
  const childCpu = () =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m.cpu));
      child.send('cpu');
    });
  const redis = new Redis(redisUrl);
  const client = new RedisTransportClient({ redisUrl, keyPrefix });
  await client.connect();
  const body = Buffer.from(
    JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: 'hello '.repeat(100) }] }),
  );

  for (const [label, pattern, concurrency, n] of [
    ['warm-up', 'bench.echo', 50, Math.min(2000, total)],
    ['echo c=1', 'bench.echo', 1, Math.min(3000, total)],
    ['echo c=50', 'bench.echo', 50, total],
    ['stream(5) c=50', 'bench.stream', 50, Math.floor(total / 2)],
  ]) {
    const latencies = [];
    const [c0, s0, r0] = [process.cpuUsage(), await childCpu(), await redisCpuMs(redis)];
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < n) {
          const t = performance.now();
          if (pattern === 'bench.echo') await firstValueFrom(client.request(pattern, { i: next }, { body }));
          else await lastValueFrom(client.request(pattern, { i: next }, { body }).pipe(toArray()));
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const [c1, s1, r1] = [process.cpuUsage(), await childCpu(), await redisCpuMs(redis)];
    if (label === 'warm-up') continue;
    latencies.sort((a, b) => a - b);
    const per = (ms) => (ms / n).toFixed(3);
    console.log(
      `${label.padEnd(15)} ${String(Math.round(n / seconds)).padStart(6)} req/s  p50 ${pct(latencies, 50).toFixed(2)} ms  p99 ${pct(latencies, 99).toFixed(2)} ms  ` +
        `CPU/req: caller ${per(cpuMs(c1) - cpuMs(c0))} ms, handler ${per(cpuMs(s1) - cpuMs(s0))} ms, redis ${per(r1 - r0)} ms`,
    );
  }
  // Requests a full queue refused (TRANSPORT_QUEUE_LIMIT); the same count is kept in Redis per queue.
  console.log(
    `refused by a full queue: ${client.refusedCount} (redis: ${Number(await redis.get(`${keyPrefix}refused:bench`)) || 0})`,
  );
  await client.close();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}

(process.env.BENCH_ROLE === 'server' ? serve() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
