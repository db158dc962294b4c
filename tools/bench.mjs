#!/usr/bin/env node
/**
 * Benchmark: the stack against a mock upstream, compared with the mock alone in the same
 * run (each phase alternates the two in BENCH_SLICES slices, default 3, so both see the same
 * machine). Prints requests/s, latency percentiles, stream time-to-first-byte, CPU time per
 * request of every stack process and of Redis, and peak RSS per process. Then large bodies
 * (coding-agent turns of 10 KB, 100 KB and 1 MB, OpenAI chat and Anthropic messages, passed
 * through in the same format at concurrency 10), again next to the mock alone.
 *
 *   npm run bench                 # defaults: 6 s per small-body phase, 3 s per large-body phase
 *   BENCH_SECONDS=15 BENCH_BODY_SECONDS=6 npm run bench
 *   npm run bench -- --bodies-only     # only the large-body phases (no pick or codec benchmarks)
 *   BENCH_PHASES="non-stream c=1" npm run bench -- --small-only   # one small-body phase alone
 *   BENCH_AB="SOME_FLAG=1" npm run bench   # A/B: the small-body phases through two stacks, B with SOME_FLAG=1, in alternating slices
 *   BENCH_BODY_KB=100 CPA_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --bodies-only   # profile one size
 *   BENCH_PHASES="non-stream c=1" BENCH_BODY_KB=10 npm run bench   # one small-body phase (profile it as above)
 *   GATEWAY_REPLICAS=2 npm run bench   # load spread over both gateways (stack.urls)
 *   npm run bench -- --peers      # also Portkey's AI gateway and claude-code-router (npm, pinned, into a temp folder), same phases, side by side
 *
 * Not part of the tests: figures depend on the machine; report them as ratios.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { conversationBody } from './bench-bodies.mjs';
import { deleteKeys } from './redis-keys.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
/** Seconds per large-body phase: the nine phase pairs (direct and through the stack) keep the bench within a few minutes. */
const BODY_SECONDS = Number(process.env.BENCH_BODY_SECONDS ?? 3);
const BODIES_ONLY = process.argv.includes('--bodies-only');
/** Only the small-body phases (with BENCH_PHASES: one latency phase in a minute). */
const SMALL_ONLY = process.argv.includes('--small-only');
/**
 * BENCH_AB="NAME=value ...": a second stack B with these variables added to its environment
 * runs beside the first (A); each small-body phase alternates A and B in slices, so a change
 * smaller than the machine's drift between two runs still shows (B against A, same moments).
 */
const AB_ENV = process.env.BENCH_AB
  ? Object.fromEntries(
      process.env.BENCH_AB.trim()
        .split(/\s+/)
        .map((pair) => pair.split(/=(.*)/s).slice(0, 2)),
    )
  : undefined;
/** Other LLM gateways through the same phases (tools/bench-peers.mjs), installed from npm. */
const PEERS = process.argv.includes('--peers');
/** Body sizes of the large-body phases (a coding agent sends 50-500 KB per turn); BENCH_BODY_KB=100 runs one size (profiling). */
const BODY_SIZES = process.env.BENCH_BODY_KB
  ? process.env.BENCH_BODY_KB.split(',').map((kb) => Number(kb) * 1024)
  : [10 * 1024, 100 * 1024, 1024 * 1024];
const BODY_CONCURRENCY = 10;
/** Each phase alternates the mock alone and the stack this many times (both then see the same machine). */
const SLICES = Math.max(1, Number(process.env.BENCH_SLICES ?? 3));
/** BENCH_PHASES="non-stream c=1" runs only the small-body phases named (comma-separated labels; profiling one load). */
const SMALL_PHASES = process.env.BENCH_PHASES?.split(',').map((label) => label.trim());
const CLIENT_KEY = 'sk-bench';
const KEY_PREFIX = `bench:${process.pid}:`;
/** The Redis the stack uses; a private one (its own port) keeps other clients out of its figures. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
  } catch {
    return 0;
  }
}

/**
 * Read and write system calls and voluntary context switches (wake-ups) of a process so far,
 * from /proc: counts, not timings, so they compare across runs on a noisy machine, where
 * every system call and wake-up costs more than the JavaScript around it.
 */
function syscallCounts(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text, name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
    return { reads: field(io, 'syscr'), writes: field(io, 'syscw'), wakeups: field(status, 'voluntary_ctxt_switches') };
  } catch {
    return { reads: 0, writes: 0, wakeups: 0 };
  }
}

function peakRssMb(pid) {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function redisPid() {
  try {
    const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'server']).toString();
    return Number(/process_id:(\d+)/.exec(info)?.[1]);
  } catch {
    return undefined;
  }
}

/** Calls per command and network bytes of the whole Redis server so far (undefined without redis-cli). */
function redisStats() {
  try {
    const info = execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'all']).toString();
    const calls = {};
    for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2]);
    const bytes = (field) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { calls, inBytes: bytes('total_net_input_bytes'), outBytes: bytes('total_net_output_bytes') };
  } catch {
    return undefined;
  }
}

function redisStatsDelta(before, after) {
  if (!before || !after) return undefined;
  const calls = {};
  for (const [command, n] of Object.entries(after.calls))
    if (n - (before.calls[command] ?? 0) > 0) calls[command] = n - (before.calls[command] ?? 0);
  // Minus the two INFO calls of the measurement itself.
  if (calls.info) calls.info = Math.max(0, calls.info - 1);
  const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
  return { calls, total, inBytes: after.inBytes - before.inBytes, outBytes: after.outBytes - before.outBytes };
}

/** Sum of two slices' Redis traffic (undefined without redis-cli). */
function addRedisTraffic(sum, part) {
  if (!part) return sum;
  if (!sum) return part;
  const calls = { ...sum.calls };
  for (const [command, n] of Object.entries(part.calls)) calls[command] = (calls[command] ?? 0) + n;
  return {
    calls,
    total: sum.total + part.total,
    inBytes: sum.inBytes + part.inBytes,
    outBytes: sum.outBytes + part.outBytes,
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * Closed-loop load: `concurrency` workers each sending requests back to back for `seconds`,
 * worker i to `origins[i % origins.length]` (several gateway replicas share the load evenly).
 */
async function load({ origins, path, body, headers, concurrency, seconds, stream = false, pools: shared }) {
  const pools = shared ?? connect(origins, concurrency);
  const latencies = [];
  const ttfbs = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async (i) => {
    const pool = pools[i % pools.length];
    while (performance.now() < until) {
      const start = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers, body });
        let first = true;
        for await (const _chunk of res.body) {
          if (first) {
            ttfbs.push(performance.now() - start);
            first = false;
          }
        }
        if (res.statusCode !== 200) errors++;
        else latencies.push(performance.now() - start);
      } catch {
        errors++;
      }
      if (!stream && latencies.length + errors === 0) break;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  const elapsed = (performance.now() - started) / 1000;
  if (!shared) await Promise.all(pools.map((pool) => pool.close()));
  return summarise({ latencies, ttfbs, errors, seconds: elapsed });
}

/** Connections for `concurrency` workers spread over `origins` (kept across the slices of a phase). */
function connect(origins, concurrency) {
  return origins.map(
    (origin) =>
      new Pool(origin, {
        connections: Math.ceil(concurrency / origins.length),
        pipelining: 1,
        keepAliveTimeout: 30_000,
      }),
  );
}

/** Requests/s and percentiles of the samples of one load or of several slices of it. */
function summarise({ latencies, ttfbs, errors, seconds }) {
  latencies.sort((a, b) => a - b);
  ttfbs.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ttfb50: percentile(ttfbs, 50),
    ttfb99: percentile(ttfbs, 99),
    latencies,
    ttfbs,
  };
}

/** Slices of one phase as if they were one load. */
function mergeLoads(parts) {
  return summarise({
    latencies: parts.flatMap((p) => p.latencies),
    ttfbs: parts.flatMap((p) => p.ttfbs),
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
    seconds: parts.reduce((sum, p) => sum + p.seconds, 0),
  });
}

/** The bench's own database, per process like its Redis keys: two benches at once do not drop each other's. */
const DATABASE_NAME = `cliproxy_bench_${process.pid}`;
/** Stack B's database under BENCH_AB. */
const DATABASE_NAME_B = `${DATABASE_NAME}_b`;

async function adminQuery(sql) {
  const admin = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

const dropDatabase = (name) => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);

async function freshDatabase(name) {
  await dropDatabase(name);
  await adminQuery(`CREATE DATABASE "${name}"`);
  return `postgresql://postgres@127.0.0.1:5432/${name}`;
}

const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** The columns every phase table starts with: requests/s of both sides, their ratio, p50 and p99 with what the stack added. */
function rateAndLatency(label, base, via, labelWidth, latencyWidth) {
  return (
    `${label.padEnd(labelWidth)} | ${fmt(base.rps, 0).padStart(10)} | ${fmt(via.rps, 0).padStart(11)} | ${fmt(via.rps / base.rps).padStart(5)} | ` +
    `${fmt(base.p50)}/${fmt(via.p50)} (+${fmt(via.p50 - base.p50)})`.padEnd(latencyWidth) +
    ' | ' +
    `${fmt(base.p99)}/${fmt(via.p99)} (+${fmt(via.p99 - base.p99)})`.padEnd(latencyWidth)
  );
}

/** What a run leaves in Postgres and Redis: its database(s) and its keys. */
function dropBenchData() {
  return Promise.all([dropDatabase(DATABASE_NAME), dropDatabase(DATABASE_NAME_B), deleteKeys(REDIS_URL, KEY_PREFIX)]);
}

/** The processes of a started stack, as `measure` charges them. */
const processesOf = (stack) => stack.services.map((s) => ({ name: s.name, label: s.label, pid: s.child.pid }));

/**
 * Ctrl-C or a kill: the bench's data goes, then the process exits, and the stacks and peers it
 * started are killed on the way out (their 'exit' hooks).
 */
function cleanUpOnSignal() {
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, async () => {
      console.error(`${signal}: stopping the benchmark`);
      await dropBenchData().catch((err) => console.error(`could not clean up: ${err.message}`));
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
}

async function main() {
  cleanUpOnSignal();
  // Installed before anything is measured, so the downloads stay out of the figures.
  const peers = PEERS ? (await import('./bench-peers.mjs')).installPeers() : undefined;
  const { startStack, build } = await import(pathToFileURL(join(ROOT, 'tools/stack.mjs')).href);
  build({ quiet: true });
  const { startMockUpstream } = await import(pathToFileURL(join(ROOT, 'libs/testing/dist/index.js')).href);
  const mock = await startMockUpstream({ record: false });

  const dir = mkdtempSync(join(tmpdir(), 'cpa-bench-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      'api-keys': [CLIENT_KEY],
      'openai-compatibility': [
        {
          name: 'bench',
          'base-url': `${mock.url}/v1`,
          'api-key-entries': [{ 'api-key': 'up-1' }, { 'api-key': 'up-2' }, { 'api-key': 'up-3' }],
          // bench-long: the large-body phases, renamed on the way as an alias is.
          models: [
            { name: 'bench-model', alias: 'bench-model' },
            { name: 'bench-upstream-long', alias: 'bench-long' },
          ],
        },
      ],
      // Anthropic-compatible upstream (Bearer to a non-Anthropic base URL): the large-body phases in Messages format.
      'claude-api-key': [
        {
          'api-key': 'up-claude',
          'base-url': mock.url,
          models: [{ name: 'claude-sonnet-4-6', alias: 'claude-bench' }],
        },
      ],
    }),
  );
  const stackEnv = {
    CONFIG_FILE: configFile,
    PORT: '0',
    ADMIN_PORT: '0',
    TRANSPORT_KEY_PREFIX: KEY_PREFIX,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
  };
  const stack = await startStack({
    quiet: true,
    skipBuild: true,
    families: ['openai-compat', 'claude'],
    env: { ...stackEnv, DATABASE_URL: await freshDatabase(DATABASE_NAME) },
  });

  const body = JSON.stringify({
    model: 'bench-model',
    messages: [{ role: 'user', content: 'a short benchmark prompt' }],
  });
  const streamBody = JSON.stringify({
    model: 'bench-model',
    stream: true,
    messages: [{ role: 'user', content: 'a short streamed benchmark prompt' }],
  });
  const direct = {
    origins: [mock.url],
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: 'Bearer up-1' },
  };
  const gateway = {
    origins: stack.urls,
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
  };

  // Warm up connection pools, JIT and caches on both paths.
  await load({ ...direct, body, concurrency: 8, seconds: 1 });
  await load({ ...gateway, body, concurrency: 8, seconds: 2 });

  const pids = processesOf(stack);
  const tearDown = async () => {
    await stack.stop();
    await mock.close();
    await dropBenchData();
  };
  const redis = redisPid();

  /**
   * One phase: the mock alone, then the same load through the stack, with CPU per request of every process and of Redis.
   * `processes` and `redisPid` (null: none) charge another system instead (the peers).
   */
  /** What a process did between two snapshots. */
  const snapshot = (pid) => ({ cpu: cpuMs(pid), ...syscallCounts(pid) });
  const delta = (before, after) => ({
    cpu: after.cpu - before.cpu,
    reads: after.reads - before.reads,
    writes: after.writes - before.writes,
    wakeups: after.wakeups - before.wakeups,
  });
  const add = (sum, part) => ({
    cpu: sum.cpu + part.cpu,
    reads: sum.reads + part.reads,
    writes: sum.writes + part.writes,
    wakeups: sum.wakeups + part.wakeups,
  });
  const none = { cpu: 0, reads: 0, writes: 0, wakeups: 0 };

  /**
   * One phase: the mock alone and the same load through the stack, in alternating slices
   * (BENCH_SLICES, default 3) so that both see the same machine (its speed drifts within a
   * run), with CPU per request of every process and of Redis over the stack's slices.
   * `processes` and `redisPid` (null: none) charge another system instead (the peers).
   */
  const measure = async ({
    label,
    directTarget = direct,
    gatewayTarget = gateway,
    body: reqBody,
    concurrency,
    seconds,
    stream = false,
    processes = pids,
    redisPid = redis,
    directProcesses = [],
  }) => {
    const slice = seconds / SLICES;
    // A/B: the "direct" side is another stack, charged like the stack (its processes, and Redis during its slices).
    let baseTotals = directProcesses.map(() => none);
    let baseRedisCpu = 0;
    const bases = [];
    const vias = [];
    // The stack gets no request while the mock alone is loaded: what it spends then is its
    // background cost (first slice only: later ones would also hold the tail of a stack slice).
    let atRest;
    let viaTotals = processes.map(() => none);
    let redisCpu = 0;
    let redisTraffic;
    // Each side keeps its connections from one slice to the next, as one continuous load would.
    const directPools = connect(directTarget.origins, concurrency);
    const viaPools = connect(gatewayTarget.origins, concurrency);
    for (let k = 0; k < SLICES; k++) {
      const restStart = processes.map(({ pid }) => snapshot(pid));
      const baseStart = directProcesses.map(({ pid }) => snapshot(pid));
      const baseRedisBefore = redisPid && directProcesses.length > 0 ? cpuMs(redisPid) : 0;
      bases.push(
        await load({ ...directTarget, body: reqBody, concurrency, seconds: slice, stream, pools: directPools }),
      );
      baseRedisCpu += redisPid && directProcesses.length > 0 ? cpuMs(redisPid) - baseRedisBefore : 0;
      baseTotals = baseTotals.map((sum, i) => add(sum, delta(baseStart[i], snapshot(directProcesses[i].pid))));
      const viaStart = processes.map(({ pid }) => snapshot(pid));
      atRest ??= processes.map(({ label: name }, i) => {
        const rest = delta(restStart[i], viaStart[i]);
        return { name, cpuMsPerSecond: rest.cpu / bases[0].seconds, wakeupsPerSecond: rest.wakeups / bases[0].seconds };
      });
      const redisBefore = redisPid ? cpuMs(redisPid) : 0;
      const statsBefore = redisPid ? redisStats() : undefined;
      vias.push(await load({ ...gatewayTarget, body: reqBody, concurrency, seconds: slice, stream, pools: viaPools }));
      redisTraffic = addRedisTraffic(redisTraffic, redisStatsDelta(statsBefore, redisPid ? redisStats() : undefined));
      redisCpu += redisPid ? cpuMs(redisPid) - redisBefore : 0;
      viaTotals = viaTotals.map((sum, i) => add(sum, delta(viaStart[i], snapshot(processes[i].pid))));
    }
    await Promise.all([...directPools, ...viaPools].map((pool) => pool.close()));
    const base = mergeLoads(bases);
    const via = mergeLoads(vias);
    const stackCpu = viaTotals.reduce((sum, p) => sum + p.cpu, 0);
    const n = Math.max(1, via.requests);
    const baseN = Math.max(1, base.requests);
    const callsPerReq = (totals, count) => totals.reduce((sum, p) => sum + p.reads + p.writes, 0) / count;
    return {
      label,
      base,
      via,
      baseCpuPerReq: (baseTotals.reduce((sum, p) => sum + p.cpu, 0) + baseRedisCpu) / baseN,
      baseCallsPerReq: callsPerReq(baseTotals, baseN),
      callsPerReq: callsPerReq(viaTotals, n),
      cpuPerReq: (stackCpu + redisCpu) / n,
      redisPerReq: redisCpu / n,
      perProcess: processes.map(({ label: name }, i) => ({
        name,
        perReq: viaTotals[i].cpu / n,
        readsPerReq: viaTotals[i].reads / n,
        writesPerReq: viaTotals[i].writes / n,
        wakeupsPerReq: viaTotals[i].wakeups / n,
      })),
      redisTraffic,
      atRest,
      n,
    };
  };

  /** BENCH_AB: stack A (as configured) against stack B (A's environment plus BENCH_AB), slice by slice. */
  async function compareStacks(phases) {
    const stackB = await startStack({
      quiet: true,
      skipBuild: true,
      families: ['openai-compat', 'claude'],
      env: {
        ...stackEnv,
        ...AB_ENV,
        DATABASE_URL: await freshDatabase(DATABASE_NAME_B),
        TRANSPORT_KEY_PREFIX: `${KEY_PREFIX}b:`,
      },
    });
    const gatewayB = { ...gateway, origins: stackB.urls };
    await load({ ...gatewayB, body, concurrency: 8, seconds: 2 });
    const pidsB = processesOf(stackB);
    console.log(
      `\nA/B (${SECONDS}s per phase in ${SLICES} slices each; B: ${process.env.BENCH_AB}; ${process.env.BENCH_NOTE ?? ''})`,
    );
    console.log(
      'phase            | rps A / B (B/A)          | p50 A / B ms       | p99 A / B ms         | CPU ms/req A / B (B/A)   | syscalls/req A / B',
    );
    for (const [label, concurrency, stream, reqBody] of phases) {
      const row = await measure({
        label,
        directTarget: gateway,
        gatewayTarget: gatewayB,
        body: reqBody,
        concurrency,
        seconds: SECONDS,
        stream,
        processes: pidsB,
        directProcesses: pids,
      });
      const { base: a, via: b } = row;
      console.log(
        `${label.padEnd(16)} | ${`${fmt(a.rps, 0)} / ${fmt(b.rps, 0)} (${fmt(b.rps / a.rps)})`.padEnd(24)} | ` +
          `${`${fmt(a.p50)} / ${fmt(b.p50)}`.padEnd(18)} | ${`${fmt(a.p99)} / ${fmt(b.p99)}`.padEnd(20)} | ` +
          `${`${fmt(row.baseCpuPerReq, 3)} / ${fmt(row.cpuPerReq, 3)} (${fmt(row.cpuPerReq / row.baseCpuPerReq)})`.padEnd(24)} | ` +
          `${fmt(row.baseCallsPerReq, 1)} / ${fmt(row.callsPerReq, 1)}`,
      );
    }
    await stackB.stop();
  }

  const smallPhases = BODIES_ONLY
    ? []
    : [
        ['non-stream c=1', 1, false, body],
        ['non-stream c=50', 50, false, body],
        ['stream c=1', 1, true, streamBody],
        ['stream c=50', 50, true, streamBody],
      ].filter(([label]) => !SMALL_PHASES || SMALL_PHASES.includes(label));
  if (AB_ENV) {
    await compareStacks(smallPhases);
    await tearDown();
    return;
  }
  const rows = [];
  for (const [label, concurrency, stream, reqBody] of smallPhases) {
    rows.push(await measure({ label, body: reqBody, concurrency, seconds: SECONDS, stream }));
  }
  // Peak RSS of the small-body load, before large bodies raise it.
  const smallRss = pids.map(({ name, label, pid }) => ({ name, label, mb: peakRssMb(pid) }));

  // Large bodies: a coding agent's turn, same format in and out (the executor only renames the model).
  const bodyTargets = {
    'openai-chat': {
      path: '/v1/chat/completions',
      model: 'bench-long',
      direct: { authorization: 'Bearer up-1' },
      gateway: { authorization: `Bearer ${CLIENT_KEY}` },
    },
    claude: {
      path: '/v1/messages',
      model: 'claude-bench',
      direct: { authorization: 'Bearer up-claude', 'anthropic-version': '2023-06-01' },
      gateway: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
    },
  };
  const bodyRows = [];
  for (const [format, target] of SMALL_ONLY ? [] : Object.entries(bodyTargets)) {
    const json = { 'content-type': 'application/json' };
    const directTarget = { origins: [mock.url], path: target.path, headers: { ...json, ...target.direct } };
    const gatewayTarget = { origins: stack.urls, path: target.path, headers: { ...json, ...target.gateway } };
    const bodies = BODY_SIZES.map((size) => ({ size, body: conversationBody(format, size, { model: target.model }) }));
    // Warm up both paths with the middle size (JIT, pools, Redis buffers).
    const warm = bodies[Math.floor(bodies.length / 2)].body;
    await load({ ...directTarget, body: warm, concurrency: BODY_CONCURRENCY, seconds: 1 });
    await load({ ...gatewayTarget, body: warm, concurrency: BODY_CONCURRENCY, seconds: 1 });
    for (const { size, body: reqBody } of bodies) {
      const row = await measure({
        label: `${format} ${sizeLabel(size)}`,
        directTarget,
        gatewayTarget,
        body: reqBody,
        concurrency: BODY_CONCURRENCY,
        seconds: BODY_SECONDS,
      });
      bodyRows.push({ ...row, format, size, bytes: reqBody.length });
    }
  }

  const printCalls = (list, width) => {
    console.log(
      '\nSystem calls per request by process (reads/writes from /proc/PID/io, wake-ups = voluntary context switches; counts, so they compare across noisy runs):',
    );
    for (const { label, perProcess } of list) {
      const active = perProcess.filter((p) => p.perReq > 0 && p.readsPerReq + p.writesPerReq >= 0.05);
      const total = active.reduce((sum, p) => sum + p.readsPerReq + p.writesPerReq, 0);
      console.log(
        `  ${label.padEnd(width)} ${fmt(total, 1)} in all: ` +
          active
            .map((p) => `${p.name} ${fmt(p.readsPerReq, 1)}r/${fmt(p.writesPerReq, 1)}w/${fmt(p.wakeupsPerReq, 1)}wake`)
            .join(', '),
      );
    }
  };

  const printRedis = (list, width) => {
    // Whole-server counters: other clients of the same Redis (tests, other stacks) add to them.
    console.log(
      '\nRedis per request (INFO commandstats / stats over the gateway phase; commands run inside scripts count too; so do other clients of this Redis):',
    );
    for (const { label, redisTraffic, n } of list) {
      if (!redisTraffic) continue;
      const top = Object.entries(redisTraffic.calls)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8);
      console.log(
        `  ${label.padEnd(width)} ${fmt(redisTraffic.total / n, 1)} commands (${top.map(([c, k]) => `${c} ${fmt(k / n, 2)}`).join(', ')}), ` +
          `${fmt(redisTraffic.inBytes / n, 0)} B in, ${fmt(redisTraffic.outBytes / n, 0)} B out`,
      );
    }
  };
  const printRss = (rss, when) => {
    console.log(
      `\npeak RSS per process ${when} (MB): ` + rss.map(({ label, mb }) => `${label} ${fmt(mb, 0)}`).join(', '),
    );
    console.log(
      `peak RSS of the stack (sum of the processes' peaks): ${fmt(
        rss.reduce((sum, p) => sum + p.mb, 0),
        0,
      )} MB`,
    );
    // Every process has a budget of 150 MB (the reliability issue names the hot path, the
    // performance issue every service process).
    const verdict = (processes) => {
      const over = processes.filter(({ mb }) => mb > 150);
      return over.length ? `no (${over.map(({ label, mb }) => `${label} ${fmt(mb, 0)}`).join(', ')})` : 'yes';
    };
    const hot = rss.filter(({ name }) => name === 'gateway' || name === 'scheduler' || name.startsWith('executor'));
    console.log(`hot-path processes at or under 150 MB: ${verdict(hot)}`);
    console.log(`every service process at or under 150 MB: ${verdict(rss)}`);
  };

  if (rows.length > 0) {
    console.log(
      `\nBenchmark (${SECONDS}s per phase, ${stack.urls.length} gateway(s), load generator, mock and stack on this machine; ${process.env.BENCH_NOTE ?? ''})`,
    );
    console.log(
      'phase            | direct rps | gateway rps | ratio | p50 direct/gw (+added) ms   | p99 direct/gw (+added) ms    | ttfb p50 direct/gw (+added) | CPU ms/req (redis) | errors',
    );
    for (const { label, base, via, cpuPerReq, redisPerReq } of rows) {
      console.log(
        rateAndLatency(label, base, via, 16, 28) +
          ' | ' +
          (label.startsWith('stream')
            ? `${fmt(base.ttfb50)}/${fmt(via.ttfb50)} (+${fmt(via.ttfb50 - base.ttfb50)})`
            : '-'
          ).padEnd(27) +
          ' | ' +
          `${fmt(cpuPerReq, 3)} (${fmt(redisPerReq, 3)})`.padEnd(18) +
          ` | ${base.errors}/${via.errors}`,
      );
    }
    console.log('\nCPU ms per request by process:');
    for (const { label, perProcess } of rows)
      console.log(`  ${label.padEnd(16)} ${perProcess.map((p) => `${p.name} ${fmt(p.perReq, 3)}`).join(', ')}`);
    printCalls(rows, 16);
    console.log(
      `\nAt rest (while the mock alone was loaded, first slice of phase ${rows[0].label}), CPU ms and wake-ups per second by process:`,
    );
    console.log(
      `  ${rows[0].atRest.map((p) => `${p.name} ${fmt(p.cpuMsPerSecond, 1)} ms/${fmt(p.wakeupsPerSecond, 0)}`).join(', ')}`,
    );
    printRedis(rows, 16);
    printRss(smallRss, 'after the small-body phases');
  }

  const largeRss = pids.map(({ name, label, pid }) => ({ name, label, mb: peakRssMb(pid) }));
  if (bodyRows.length > 0) {
    console.log(
      `\nLarge bodies (a coding agent's turn: system prompt, tools, tool calls and results; concurrency ${BODY_CONCURRENCY}, not streamed, ` +
        `same format in and out, model renamed by alias; ${BODY_SECONDS}s per phase; ${process.env.BENCH_NOTE ?? ''})`,
    );
    console.log(
      'phase                | direct rps | gateway rps | ratio | p50 direct/gw (+added) ms    | p99 direct/gw (+added) ms     | CPU ms/req (redis) | CPU µs/KB | errors',
    );
    for (const { label, base, via, cpuPerReq, redisPerReq, bytes } of bodyRows) {
      console.log(
        rateAndLatency(label, base, via, 20, 29) +
          ' | ' +
          `${fmt(cpuPerReq, 3)} (${fmt(redisPerReq, 3)})`.padEnd(18) +
          ' | ' +
          fmt((cpuPerReq * 1000) / (bytes / 1024), 1).padStart(9) +
          ` | ${base.errors}/${via.errors}`,
      );
    }
    console.log('\nCPU ms per request by process:');
    for (const { label, perProcess } of bodyRows)
      console.log(`  ${label.padEnd(20)} ${perProcess.map((p) => `${p.name} ${fmt(p.perReq, 3)}`).join(', ')}`);
    printCalls(bodyRows, 20);
    // Cost per request should grow no faster than the body: a CPU factor at or below the bytes factor.
    console.log('\nCost against body size (stack + Redis CPU per request, from one size to the next):');
    for (const format of Object.keys(bodyTargets)) {
      const list = bodyRows.filter((r) => r.format === format);
      const steps = list.slice(1).map((row, i) => {
        const prev = list[i];
        return `${sizeLabel(prev.size)} -> ${sizeLabel(row.size)}: bytes x${fmt(row.bytes / prev.bytes, 1)}, CPU x${fmt(row.cpuPerReq / prev.cpuPerReq, 1)}`;
      });
      console.log(`  ${format.padEnd(12)} ${steps.join('; ')}`);
    }
    printRedis(bodyRows, 20);
    printRss(largeRss, 'after the large-body phases');
  }

  if (peers) {
    // The stack's Anthropic-to-OpenAI path too (claude-code-router's), then the peers with the stack stopped.
    await peers.run({
      measure,
      load,
      peakRssMb,
      fmt,
      sizeLabel,
      smallPhases,
      seconds: SECONDS,
      bodySizes: BODY_SIZES,
      bodySeconds: BODY_SECONDS,
      bodyConcurrency: BODY_CONCURRENCY,
      mockUrl: mock.url,
      stack: { urls: stack.urls, clientKey: CLIENT_KEY, stop: stack.stop, rows, bodyRows, smallRss, largeRss },
    });
  }
  await tearDown();
  if (BODIES_ONLY || SMALL_ONLY) return;

  // The scheduler's pick and the format codecs, measured alone (issues 3 and 4).
  const requestCpu = rows.find((r) => r.label === 'non-stream c=50')?.cpuPerReq ?? 0;
  console.log('\nScheduler picks (real Redis):');
  spawnSync(process.execPath, [join(ROOT, 'tools/bench-scheduler.mjs'), '--request-cpu-ms', requestCpu.toFixed(3)], {
    stdio: 'inherit',
    cwd: ROOT,
  });
  console.log('\nFormat translation:');
  spawnSync(process.execPath, [join(ROOT, 'tools/bench-formats.mjs')], { stdio: 'inherit', cwd: ROOT });
}

const sizeLabel = (bytes) =>
  bytes >= 1024 * 1024 ? `${fmt(bytes / 1024 / 1024, 0)} MB` : `${fmt(bytes / 1024, 0)} KB`;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
