#!/usr/bin/env node
/**
 * Scheduler pick throughput against the real Redis, using the built libraries
 * (run `npm run build` first). For 10, 100 and 1,000 credentials it runs DispatchService
 * picks with a fixed number in flight and prints picks per second, mean latency and
 * CPU time per pick: the scheduler process's and Redis's (from INFO cpu; Redis should be
 * otherwise idle). A tenth of the credentials are cooling, so state really travels.
 *
 * With --request-cpu-ms <n> (the CPU a whole request costs the stack, Redis included, as
 * measured by tools/bench.mjs) it also prints the pick's share of that. --json prints one
 * row per size instead: credentials, picksPerSecond, cpuMsPerPick (scheduler process),
 * redisCpuMsPerPick, meanLatencyMs, and with --request-cpu-ms requestCpuMs and
 * pickShareOfRequestCpu (0..1, scheduler plus Redis).
 *
 *   node tools/bench-scheduler.mjs [--picks 20000] [--concurrency 64] [--sizes 10,100,1000]
 *                                  [--strategy round-robin|fill-first|weighted-round-robin]
 *                                  [--affinity] [--request-cpu-ms <n>] [--json]
 *
 * Env: REDIS_URL (default redis://127.0.0.1:6379).
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { DispatchService, RoutingStateStore } = require('../libs/routing-state/dist/index.js');
const { snapshotOf } = require('../libs/catalog/dist/index.js');
const { testCredential } = require('../libs/catalog/dist/test-credential.js');
const { Redis } = require('ioredis');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const next = process.argv[i + 1];
  return next === undefined || next.startsWith('--') ? true : next;
}

const picks = Number(arg('picks', 20000));
const concurrency = Number(arg('concurrency', 64));
const sizes = String(arg('sizes', '10,100,1000')).split(',').map(Number);
const strategy = String(arg('strategy', 'round-robin'));
const affinity = arg('affinity', false) === true;
const asJson = arg('json', false) === true;
const requestCpuArg = arg('request-cpu-ms', undefined);
const requestCpuMs = requestCpuArg === undefined || requestCpuArg === true ? undefined : Number(requestCpuArg);
if (requestCpuMs !== undefined && !(requestCpuMs > 0)) {
  console.error(`--request-cpu-ms needs a positive number of milliseconds, got ${requestCpuArg}`);
  process.exit(2);
}
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODEL = 'claude-sonnet-4-5';

function credential(i) {
  return testCredential(`bench-${String(i).padStart(5, '0')}`, {
    label: `bench ${i}`,
    weight: 1 + (i % 3),
    models: [{ name: MODEL, alias: MODEL }],
  });
}

/** Redis server CPU (user + system) in ms, from INFO cpu. */
async function redisCpuMs(client) {
  const info = await client.info('cpu');
  const value = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (value('used_cpu_user') + value('used_cpu_sys')) * 1000;
}

async function run(size) {
  const prefix = `bench:scheduler:${process.pid}:${randomUUID().slice(0, 8)}:`;
  const settings = { 'routing.strategy': strategy, 'routing.session-affinity': affinity };
  const catalog = {
    snapshot: snapshotOf(
      Array.from({ length: size }, (_, i) => credential(i)),
      settings,
    ),
  };
  const store = new RoutingStateStore({ redisUrl, keyPrefix: prefix });
  const service = new DispatchService(catalog, store);
  const route = (i) => ({
    requestId: `r${i}`,
    clientFormat: 'claude',
    model: MODEL,
    stream: false,
    sessionIds: affinity ? [`header:session-${i % 500}`] : [],
    headers: {},
    deadline: Date.now() + 60_000,
  });

  for (let i = 0; i < size; i += 10) {
    await service.attemptFinished({
      credentialId: credential(i).id,
      family: 'claude',
      baseModel: MODEL,
      ok: false,
      status: 429,
      retryAfterMs: 3_600_000,
    });
  }
  // Warm-up: script loading, JIT, state cache.
  for (let i = 0; i < 200; i++) await service.dispatch(route(i));

  const probe = new Redis(redisUrl);
  let next = 0;
  let latencyTotal = 0;
  const redisStart = await redisCpuMs(probe);
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  async function worker() {
    while (next < picks) {
      const i = next++;
      const t = performance.now();
      const result = await service.dispatch(route(i));
      latencyTotal += performance.now() - t;
      if (!result || typeof result !== 'object' || !('pattern' in result)) throw new Error('a pick failed');
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const redisCpu = (await redisCpuMs(probe)) - redisStart;
  await probe.quit();
  await store.close();

  const cleanup = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [nextCursor, keys] = await cleanup.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length > 0) await cleanup.del(...keys);
  } while (cursor !== '0');
  await cleanup.quit();

  const cpuMsPerPick = (cpu.user + cpu.system) / 1000 / picks;
  const redisCpuMsPerPick = Math.max(0, redisCpu) / picks;
  return {
    credentials: size,
    picks,
    concurrency,
    strategy,
    affinity,
    picksPerSecond: Math.round((picks / elapsedMs) * 1000),
    meanLatencyMs: Number((latencyTotal / picks).toFixed(3)),
    cpuMsPerPick: Number(cpuMsPerPick.toFixed(4)),
    redisCpuMsPerPick: Number(redisCpuMsPerPick.toFixed(4)),
    ...(requestCpuMs !== undefined
      ? { requestCpuMs, pickShareOfRequestCpu: Number(((cpuMsPerPick + redisCpuMsPerPick) / requestCpuMs).toFixed(4)) }
      : {}),
  };
}

const percent = (share) => `${(share * 100).toFixed(1)}%`;

const results = [];
for (const size of sizes) results.push(await run(size));
if (asJson) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log(
    `scheduler picks (${strategy}${affinity ? ', session affinity' : ''}, ${concurrency} in flight, ${picks} picks each)`,
  );
  for (const r of results) {
    console.log(
      `${String(r.credentials).padStart(6)} credentials: ${String(r.picksPerSecond).padStart(7)} picks/s  ` +
        `mean ${r.meanLatencyMs.toFixed(3)} ms  cpu ${r.cpuMsPerPick.toFixed(4)} ms/pick (scheduler process) + ${r.redisCpuMsPerPick.toFixed(4)} (redis)` +
        (r.pickShareOfRequestCpu !== undefined
          ? `  = ${percent(r.pickShareOfRequestCpu)} of a request's ${r.requestCpuMs} ms CPU`
          : ''),
    );
  }
}
