/**
 * Fault suite (`npm run faults`, also run last by `npm test`): steady load through both
 * gateways of a stack with two gateways, two schedulers and two executors per family, with
 * the official openai and @anthropic-ai/sdk clients, streaming and not, while one fault at
 * a time is injected: kill -9 of each replica kind, a Redis restart (a redis-server of the
 * suite's own), Postgres gone for 30 s (a cut forwarder), the upstream cutting streams, the
 * upstream slowed to a trickle. Every request carries a unique marker in its prompt, so the
 * mock upstream's request log counts how often each one reached the upstream; every other one
 * carries a 23 KB system prompt, so its body is stored in Redis and passed by reference.
 *
 * Printed per fault: sent, succeeded, failed cleanly (an error status or the client format's
 * error event), connection errors (only acceptable where a gateway itself is killed),
 * duplicated at the upstream (must be 0), lost or hung past the deadline (must be 0) and
 * seconds back to full throughput (at most RECOVERY_BOUND_S).
 */
import { createServer } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CuttableTcpForwarder, TestRedisServer, type MockBehavior } from '@cpa/testing';
import { CLIENT_KEY, TWO_OF_EACH, useStack } from './stack-fixture';

const OPENAI_MODEL = 'fault-gpt';
const CLAUDE_MODEL = 'fault-claude';
/** A request not answered within this is hung. */
const DEADLINE_MS = 30_000;
const RECOVERY_BOUND_S = 5;
/** A 1 s window of request starts is at full throughput when all of them succeeded and they were at least this share of the pre-fault rate. */
const FULL_SHARE = 0.6;
const BASELINE_MS = 3_000;
const OBSERVE_AFTER_MS = 8_000;
/** Steady, latency-bound load (not CPU-bound, so the rate is comparable across windows). */
const STEADY: MockBehavior = { chunkDelayMs: 40, streamChunks: 4 };
/**
 * Open-loop load: requests start at this rate whatever earlier ones are doing (as real
 * clients do), so a slow or stuck request does not hide a recovered stack.
 */
const REQUESTS_PER_SECOND = 20;
/** Bound on requests in flight, so a fault cannot make the load itself run away. */
const MAX_IN_FLIGHT = 200;
/** Every other request carries a coding agent's long system prompt: its body (over 16 KiB) travels by reference, under the same faults. */
const LONG_SYSTEM = `You are a coding agent. ${'Follow the conventions of the repository and run its tests before you answer. '.repeat(300)}`;

let postgres: CuttableTcpForwarder;
let redis: TestRedisServer;
let gatewayPort: number;

/**
 * Two consecutive free ports below Linux's ephemeral range (32768+), which the load's own
 * client connections draw from: restarted gateways come back on the same address.
 */
async function twoFreePorts(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await free(port)) && (await free(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports');
}

beforeAll(async () => {
  const direct = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/cliproxy_test');
  postgres = await CuttableTcpForwarder.start({ host: direct.hostname, port: Number(direct.port || 5432) });
  redis = await TestRedisServer.start();
  gatewayPort = await twoFreePorts();
});
afterAll(async () => {
  await postgres?.restore();
  await redis?.kill();
  await postgres?.cut();
});

const { mock, stack } = useStack({
  config: (upstream) => ({
    // No scheduler retries: any second upstream call of one request is a transport duplicate.
    'request-retry': 0,
    'max-retry-credentials': 1,
    // A failed upstream call cools its credential down (60 s by default, CLIProxyAPI's rule);
    // 1 s here so the upstream faults measure the router's recovery, not the configured pause.
    'transient-error-cooldown-seconds': 1,
    'claude-api-key': ['sk-ant-fault-000000000000000-a', 'sk-ant-fault-000000000000000-b'].map((key) => ({
      'api-key': key,
      'base-url': upstream.url,
      models: [{ name: 'claude-sonnet-4-5', alias: CLAUDE_MODEL }],
    })),
    'openai-compatibility': [
      {
        name: 'fault',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': 'fault-key-a' }, { 'api-key': 'fault-key-b' }],
        models: [{ name: 'gpt-4o-mini', alias: OPENAI_MODEL }],
      },
    ],
  }),
  env: () => ({
    ...TWO_OF_EACH,
    PORT: String(gatewayPort),
    REDIS_URL: redis.url,
    STATE_MIRROR_MS: '500',
    USAGE_DRAIN_MS: '300',
    CATALOG_KEEP_ALIVE_MS: '500',
  }),
  families: ['claude', 'openai-compat'],
  databaseUrl: (direct) => {
    const url = new URL(direct);
    url.port = String(postgres.port);
    return url.toString();
  },
});

type Outcome = 'ok' | 'clean' | 'connection' | 'lost';
interface Sample {
  marker: string;
  start: number;
  end: number;
  outcome: Outcome;
  detail?: string;
}

let sequence = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request in one of four shapes (client x streaming), classified by what the client saw. */
async function oneRequest(gateway: string, shape: number): Promise<Sample> {
  const marker = `fault-req-${process.pid}-${++sequence}`;
  const start = Date.now();
  const content = `please echo ${marker} back`;
  const long = sequence % 2 === 0;
  const chat: OpenAI.ChatCompletionMessageParam[] = [
    ...(long ? [{ role: 'system' as const, content: LONG_SYSTEM }] : []),
    { role: 'user', content },
  ];
  const system = long ? { system: LONG_SYSTEM } : {};
  const done = (outcome: Outcome, detail?: string): Sample => ({ marker, start, end: Date.now(), outcome, detail });
  const options = { apiKey: CLIENT_KEY, maxRetries: 0, timeout: DEADLINE_MS };
  try {
    let text = '';
    let finished = false;
    if (shape < 2) {
      const client = new OpenAI({ ...options, baseURL: `${gateway}/v1` });
      if (shape === 0) {
        const out = await client.chat.completions.create({ model: OPENAI_MODEL, messages: chat });
        text = out.choices[0]?.message.content ?? '';
        finished = out.choices[0]?.finish_reason === 'stop';
      } else {
        const stream = await client.chat.completions.create({ model: OPENAI_MODEL, messages: chat, stream: true });
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
          if (chunk.choices[0]?.finish_reason === 'stop') finished = true;
        }
      }
    } else {
      const client = new Anthropic({ ...options, baseURL: gateway });
      if (shape === 2) {
        const out = await client.messages.create({
          model: CLAUDE_MODEL,
          max_tokens: 64,
          ...system,
          messages: [{ role: 'user', content }],
        });
        text = out.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
        finished = out.stop_reason === 'end_turn';
      } else {
        const stream = await client.messages.create({
          model: CLAUDE_MODEL,
          max_tokens: 64,
          stream: true,
          ...system,
          messages: [{ role: 'user', content }],
        });
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
          if (event.type === 'message_delta' && event.delta.stop_reason === 'end_turn') finished = true;
        }
      }
    }
    // A reply that ends without its end marker, or without the prompt echoed, was silently lost.
    return finished && text.includes(marker) ? done('ok') : done('lost', `incomplete reply (${text.length} chars)`);
  } catch (err) {
    if (err instanceof OpenAI.APIConnectionTimeoutError || err instanceof Anthropic.APIConnectionTimeoutError)
      return done('lost', 'hung past the deadline');
    if (err instanceof OpenAI.APIConnectionError || err instanceof Anthropic.APIConnectionError)
      return done('connection', err.message);
    // An error status, or an error event in the client's own stream format.
    if (err instanceof OpenAI.APIError || err instanceof Anthropic.APIError)
      return done('clean', `${err.status ?? 'event'} ${err.message.slice(0, 80)}`);
    return done('connection', err instanceof Error ? err.message : String(err));
  }
}

/** Requests at a steady rate over both gateways and all four shapes, until stopped. */
function startLoad(): { samples: Sample[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  const timer = setInterval(() => {
    if (inFlight.size >= MAX_IN_FLIGHT) return;
    const i = n++;
    const request = oneRequest(stack.urls[i % stack.urls.length], Math.floor(i / stack.urls.length) % 4).then(
      (sample) => {
        samples.push(sample);
        inFlight.delete(request);
      },
    );
    inFlight.add(request);
  }, 1_000 / REQUESTS_PER_SECOND);
  return {
    samples,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}

interface FaultReport {
  fault: string;
  sent: number;
  succeeded: number;
  failedCleanly: number;
  connectionErrors: number;
  duplicated: number;
  lostOrHung: number;
  recoverySeconds: number;
  details: string[];
}
const reports: FaultReport[] = [];

/**
 * Seconds from `from` until the first 1 s window whose requests (by start time) all
 * succeeded, at full throughput: new requests flow again. Requests that were in flight at
 * the fault and failed later are counted above, not here.
 */
function recoverySeconds(samples: Sample[], baselinePerSecond: number, from: number, until: number): number {
  for (let t = from; t + 1_000 <= until; t += 250) {
    const inWindow = samples.filter((s) => s.start >= t && s.start < t + 1_000);
    const ok = inWindow.filter((s) => s.outcome === 'ok').length;
    if (ok >= baselinePerSecond * FULL_SHARE && inWindow.every((s) => s.outcome === 'ok')) return (t - from) / 1_000;
  }
  return Infinity;
}

/** When, relative to the fault's start, the failed requests started and ended (for a reader chasing a cause). */
function failureTimes(samples: Sample[], faultStart: number): string[] {
  const failed = samples.filter((s) => s.outcome !== 'ok');
  if (failed.length === 0) return [];
  const at = (ms: number) => ((ms - faultStart) / 1_000).toFixed(1);
  const starts = failed.map((s) => s.start);
  const ends = failed.map((s) => s.end);
  return [
    `failures started ${at(Math.min(...starts))}..${at(Math.max(...starts))} s, ended ${at(Math.min(...ends))}..${at(Math.max(...ends))} s after the fault began`,
  ];
}

/**
 * Runs the load, measures the pre-fault rate, injects the fault (`inject` resolves when the
 * fault is over), watches the recovery, drains, and counts.
 */
async function underLoad(fault: string, inject: () => Promise<void>): Promise<FaultReport> {
  mock.setBehavior('*', STEADY);
  const load = startLoad();
  await sleep(BASELINE_MS);
  const baseline =
    load.samples.filter(
      (s) => s.outcome === 'ok' && s.start >= Date.now() - BASELINE_MS + 500 && s.start < Date.now() - 500,
    ).length /
    ((BASELINE_MS - 1_000) / 1_000);
  const faultStart = Date.now();
  const logsBefore = stack.logs.length;
  await inject();
  const faultOver = Date.now();
  await sleep(OBSERVE_AFTER_MS);
  await load.stop();
  // Redelivery after a lapsed heartbeat would show up now, after the clients were answered.
  await sleep(2_000);

  const calls = new Map<string, number>();
  for (const request of mock.requests) {
    const marker = /fault-req-\d+-\d+/.exec(request.rawBody)?.[0];
    if (marker) calls.set(marker, (calls.get(marker) ?? 0) + 1);
  }
  const samples = load.samples;
  const count = (outcome: Outcome) => samples.filter((s) => s.outcome === outcome).length;
  const report: FaultReport = {
    fault,
    sent: samples.length,
    succeeded: count('ok'),
    failedCleanly: count('clean'),
    connectionErrors: count('connection'),
    duplicated: [...calls.values()].filter((n) => n > 1).length,
    lostOrHung: count('lost'),
    recoverySeconds: recoverySeconds(samples, baseline, faultOver, Date.now() - 2_000),
    details: [
      ...[...new Set(samples.filter((s) => s.outcome !== 'ok').map((s) => `${s.outcome}: ${s.detail}`))].slice(0, 6),
      ...failureTimes(samples, faultStart),
      ...stack.logs
        .slice(logsBefore)
        .filter((line) => /error|warn|fatal/i.test(line))
        .slice(0, 5)
        .map((line) => `log: ${line.slice(0, 200)}`),
    ],
  };
  reports.push(report);
  console.log(
    `[faults] ${fault.padEnd(28)} sent ${report.sent}, succeeded ${report.succeeded}, failed cleanly ${report.failedCleanly}, ` +
      `connection errors ${report.connectionErrors}, duplicated ${report.duplicated}, lost or hung ${report.lostOrHung}, ` +
      `back to full throughput in ${report.recoverySeconds} s (baseline ${baseline.toFixed(1)}/s)` +
      (report.details.length ? `\n          ${report.details.join('\n          ')}` : ''),
  );
  return report;
}

function expectContract(report: FaultReport, { connectionErrorsAllowed = false } = {}): void {
  expect(report.succeeded, 'load ran').toBeGreaterThan(0);
  expect(report.duplicated, 'duplicated at the upstream').toBe(0);
  expect(report.lostOrHung, 'lost or hung past the deadline').toBe(0);
  if (!connectionErrorsAllowed) expect(report.connectionErrors, 'connection errors').toBe(0);
  expect(report.recoverySeconds, 'seconds back to full throughput').toBeLessThanOrEqual(RECOVERY_BOUND_S);
}

const replica = (label: string) => {
  const service = stack.services.find((s) => s.label === label);
  if (!service) throw new Error(`no process ${label}: ${stack.services.map((s) => s.label).join(', ')}`);
  return service;
};
const killHard = (label: string) => replica(label).child.kill('SIGKILL');

describe('faults under steady load through two gateways', () => {
  it('kill -9 of a gateway', async () => {
    // The killed gateway's own clients lose their connection (no load balancer in front).
    expectContract(await underLoad('kill -9 gateway', async () => void killHard('gateway#1')), {
      connectionErrorsAllowed: true,
    });
  });

  it('kill -9 of a scheduler', async () => {
    expectContract(await underLoad('kill -9 scheduler', async () => void killHard('scheduler#1')));
  });

  it('kill -9 of an executor of each family', async () => {
    expectContract(
      await underLoad('kill -9 executors', async () => {
        killHard('executor-claude#1');
        killHard('executor-openai-compat#2');
      }),
    );
  });

  it('Redis restart', async () => {
    expectContract(
      await underLoad('redis restart', async () => {
        await redis.kill();
        await sleep(1_000);
        await redis.restart();
      }),
    );
  });

  it('Postgres stopped for 30 s', async () => {
    expectContract(
      await underLoad('postgres stopped 30 s', async () => {
        await postgres.cut();
        await sleep(30_000);
        await postgres.restore();
      }),
    );
  }, 90_000);

  it('upstream cut mid-stream', async () => {
    expectContract(
      await underLoad('upstream cut mid-stream', async () => {
        mock.setBehavior('*', { ...STEADY, closeMidStream: true });
        await sleep(3_000);
        mock.setBehavior('*', STEADY);
      }),
    );
  });

  it('upstream slowed to a trickle', async () => {
    expectContract(
      await underLoad('upstream trickle', async () => {
        mock.setBehavior('*', { ...STEADY, delayMs: 1_500, chunkDelayMs: 1_500 });
        await sleep(5_000);
        mock.setBehavior('*', STEADY);
      }),
    );
  });

  afterAll(() => {
    console.log('[faults] summary');
    console.table(reports.map(({ details: _details, ...row }) => row));
  });
});
