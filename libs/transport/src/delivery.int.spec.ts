import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CONSUMER_GROUP, RedisTransportClient, TransportError, transportKeys } from './index';

/**
 * The delivery contract against real processes: consumers run as child processes on the
 * built transport (src/__fixtures__/consumer.mjs), so one can die by SIGKILL mid-batch.
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const fixture = resolve(__dirname, '__fixtures__/consumer.mjs');
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}delivery:${randomBytes(3).toString('hex')}:`;

interface Consumer {
  child: ChildProcess;
  name: string;
}

const children: ChildProcess[] = [];
const clients: RedisTransportClient[] = [];
let redis: Redis;

async function startConsumer(env: Record<string, string>): Promise<Consumer> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, REDIS_URL: redisUrl, KEY_PREFIX: prefix, CONSUMER_TTL_MS: '1000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const name = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /READY (\S+)/.exec(out);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`consumer exited with ${code} before it was ready`)));
  });
  return { child, name };
}

interface Step {
  consumer: string;
  id: string;
  step: 'taken' | 'started' | 'done';
}

async function steps(): Promise<Step[]> {
  return (await redis.lrange(`${prefix}log`, 0, -1)).map((line) => {
    const [consumer, id, step] = line.split('|') as [string, string, Step['step']];
    return { consumer, id, step };
  });
}

beforeAll(() => {
  // The consumers run the built transport: build it (incremental, quick when up to date).
  execFileSync(
    process.execPath,
    [resolve(__dirname, '../../../node_modules/typescript/bin/tsc'), '-b', resolve(__dirname, '..')],
    { stdio: 'inherit' },
  );
  redis = new Redis(redisUrl);
});

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(clients.splice(0).map((c) => c.close()));
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
});

afterAll(async () => {
  await redis.quit();
});

describe('a consumer killed mid-batch', () => {
  it('has its unstarted items delivered again exactly once to a live consumer, and never a started one', async () => {
    const doomed = await startConsumer({ HOLD_MS: '60000' });
    const caller = new RedisTransportClient({ redisUrl, keyPrefix: prefix, idleTimeoutMs: 4_000 });
    clients.push(caller);
    const total = 20;
    // Every item carries a body large enough to travel by reference: a redelivered one still finds it.
    const bodies = Array.from({ length: total }, () => randomBytes(32 * 1024));
    // Even items are marked started by their handler (an executor's upstream call), odd ones are not.
    const outcomes = Array.from({ length: total }, (_, n) =>
      lastValueFrom(caller.request('crash.work', { n, start: n % 2 === 0 }, { body: bodies[n] })).then(
        (frame) => ({
          n,
          by: (frame.meta as { by: string; body: string }).by,
          body: (frame.meta as { body: string }).body,
        }),
        (err: TransportError) => ({ n, error: err.code }),
      ),
    );
    // The doomed consumer took every item in its batches and started the even ones.
    await vi.waitFor(
      async () => {
        const log = await steps();
        expect(log.filter((s) => s.step === 'taken')).toHaveLength(total);
        expect(log.filter((s) => s.step === 'started')).toHaveLength(total / 2);
      },
      { timeout: 15_000, interval: 50 },
    );
    const live = [await startConsumer({ HOLD_MS: '10' }), await startConsumer({ HOLD_MS: '10' })];
    doomed.child.kill('SIGKILL');

    const results = await Promise.all(outcomes);
    const liveNames = live.map((c) => c.name);
    for (const result of results) {
      if (result.n % 2 === 1) {
        expect(liveNames).toContain((result as { by: string }).by);
        expect((result as { body: string }).body).toBe(createHash('sha256').update(bodies[result.n]!).digest('hex'));
      }
      // A started item is never delivered again: its caller learns from the idle timeout.
      else expect(result).toEqual({ n: result.n, error: 'lost' });
    }

    const log = await steps();
    const byId = new Map<string, Step[]>();
    for (const s of log) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
    expect(byId.size).toBe(total);
    let redelivered = 0;
    for (const itemSteps of byId.values()) {
      const started = itemSteps.some((s) => s.step === 'started');
      if (started) {
        expect(itemSteps.map((s) => [s.consumer, s.step])).toEqual([
          [doomed.name, 'taken'],
          [doomed.name, 'started'],
        ]);
      } else {
        // Taken by the dead consumer, then by exactly one live consumer, which finished it once.
        expect(itemSteps.filter((s) => s.consumer === doomed.name).map((s) => s.step)).toEqual(['taken']);
        const others = itemSteps.filter((s) => s.consumer !== doomed.name);
        expect(others.map((s) => s.step)).toEqual(['taken', 'done']);
        expect(new Set(others.map((s) => s.consumer)).size).toBe(1);
        redelivered++;
      }
    }
    expect(redelivered).toBe(total / 2);

    // Nothing is left behind: every item acknowledged, the dead consumer gone from the group.
    const queue = transportKeys.queue(prefix, 'crash');
    await vi.waitFor(async () => expect(await redis.xlen(queue)).toBe(0), { timeout: 5_000 });
    const consumers = (await redis.xinfo('CONSUMERS', queue, CONSUMER_GROUP)) as unknown[][];
    expect(consumers.map((fields) => String(fields[fields.indexOf('name') + 1]))).not.toContain(doomed.name);
    // Every call settled (answered or lost): no stored body outlives it.
    await vi.waitFor(async () => expect(await redis.keys(`${prefix}body:*`)).toEqual([]), { timeout: 5_000 });
  });

  it('leaves the items of a consumer that stopped gracefully to nobody: it finished them', async () => {
    const consumer = await startConsumer({ HOLD_MS: '50' });
    const caller = new RedisTransportClient({ redisUrl, keyPrefix: prefix, idleTimeoutMs: 4_000 });
    clients.push(caller);
    const replies = Promise.all(
      Array.from({ length: 10 }, (_, n) => lastValueFrom(caller.request('crash.work', { n, start: false }))),
    );
    await vi.waitFor(async () => expect((await steps()).filter((s) => s.step === 'taken')).toHaveLength(10), {
      timeout: 15_000,
    });
    consumer.child.kill('SIGTERM');
    expect((await replies).map((f) => (f.meta as { n: number }).n)).toEqual(Array.from({ length: 10 }, (_, n) => n));
    await new Promise((resolve) => consumer.child.once('exit', resolve));
    expect(await redis.xlen(transportKeys.queue(prefix, 'crash'))).toBe(0);
    expect(await redis.exists(transportKeys.consumer(prefix, consumer.name))).toBe(0);
  });
});
