import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService, UsageRepository, UsageRequestRepository } from '@cpa/db';
import { TestRedisServer } from '@cpa/testing';
import { UsageBuffer } from './usage-buffer';
import { UsageDrain } from './usage-drain';
import { UsageRecorder } from './usage-recorder';
import { forward, frame } from '@cpa/transport';
import type { AttemptResult } from '@cpa/contracts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = `cpa-test:usage:${randomUUID()}:`;
const credentialId = `usage-recorder-${process.pid}-${Date.now()}`;
let prisma: PrismaService;
let buffer: UsageBuffer;

beforeAll(() => {
  prisma = new PrismaService(process.env.DATABASE_URL!);
  buffer = new UsageBuffer({ redisUrl, keyPrefix });
});
afterAll(async () => {
  await prisma.usageDaily.deleteMany({ where: { credentialId: { startsWith: credentialId } } });
  await prisma.usageRequest.deleteMany({ where: { credentialId: { startsWith: credentialId } } });
  await prisma.usageHourly.deleteMany({ where: { credentialId: { startsWith: credentialId } } });
  await prisma.$disconnect();
  buffer.onModuleDestroy();
  const { deleteKeys } = await import('../../../tools/redis-keys.mjs');
  await deleteKeys(redisUrl, keyPrefix);
});

/** The admin's drain from `from` into the Postgres `into` names (unreachable in the outage tests). */
const drainer = (into: PrismaService, from = buffer) =>
  new UsageDrain(from, new UsageRepository(into), new UsageRequestRepository(into), 0);
const UNREACHABLE_POSTGRES = 'postgresql://postgres@127.0.0.1:1/nowhere';

/**
 * Redis of a test's own that goes away and comes back (restarted empty, as a crashed cache
 * node would): usage recorded meanwhile must reach it once it is back.
 */
async function withRedisOutage(
  during: (recorder: UsageRecorder) => Promise<void>,
  after: (recorder: UsageRecorder) => Promise<void>,
): Promise<UsageBuffer> {
  const redis = await TestRedisServer.start();
  const own = new UsageBuffer({ redisUrl: redis.url, keyPrefix });
  const recorder = new UsageRecorder(own, 60_000);
  try {
    await redis.kill();
    await during(recorder);
    await redis.restart();
    await after(recorder);
    await drainer(prisma, own).drain();
    return own;
  } finally {
    await recorder.onModuleDestroy();
    own.onModuleDestroy();
    await redis.kill();
  }
}

/** A successful attempt on a claude credential of model `m`, with `over` on top. */
const answered = (id: string, over: Partial<AttemptResult> = {}): AttemptResult => ({
  credentialId: id,
  family: 'claude',
  baseModel: 'm',
  ok: true,
  status: 200,
  ...over,
});

const rows = (id = credentialId) =>
  prisma.usageDaily.findMany({ where: { credentialId: id }, orderBy: { model: 'asc' } });

describe('usage: scheduler -> Redis buffer -> admin drain -> Postgres', () => {
  it('sums attempts in memory, buffers one batch per flush, and the drain writes it', async () => {
    const recorder = new UsageRecorder(buffer, 60_000);
    const base = { credentialId, family: 'claude' as const, baseModel: 'm1', clientKeyId: 'ck1', status: 200 };
    recorder.record({ ...base, ok: true, usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 2 } });
    recorder.record({ ...base, ok: true, usage: { inputTokens: 1, outputTokens: 1, reasoningTokens: 3 } });
    recorder.record({ ...base, ok: false, status: 500 });
    recorder.record({ ...base, baseModel: 'm2', ok: true });
    await recorder.flush();
    expect(await buffer.pending()).toBe(1);
    expect(await rows()).toHaveLength(0);

    const drain = drainer(prisma);
    expect(await drain.drain()).toBe(1);
    expect(await buffer.pending()).toBe(0);
    const [m1, m2] = await rows();
    expect(m1).toMatchObject({
      model: 'm1',
      clientKeyId: 'ck1',
      requests: 3,
      failures: 1,
      inputTokens: 11n,
      outputTokens: 6n,
      cachedTokens: 2n,
      reasoningTokens: 3n,
    });
    expect(m2).toMatchObject({ model: 'm2', requests: 1, failures: 0 });
    await recorder.onModuleDestroy();
  });

  it('keeps usage in Redis while Postgres is unreachable and writes it when it is back', async () => {
    const id = `${credentialId}-outage`;
    const recorder = new UsageRecorder(buffer, 60_000);
    recorder.record(answered(id, { usage: { inputTokens: 4, outputTokens: 4 } }));
    await recorder.flush();
    recorder.record(answered(id, { usage: { inputTokens: 1, outputTokens: 1 } }));
    await recorder.flush();

    const broken = new PrismaService(UNREACHABLE_POSTGRES);
    const failing = drainer(broken);
    expect(await failing.drain()).toBe(0);
    expect(await buffer.pending()).toBe(2);
    await broken.$disconnect().catch(() => undefined);

    expect(await drainer(prisma).drain()).toBe(2);
    expect(await rows(id)).toEqual([expect.objectContaining({ requests: 2, inputTokens: 5n, outputTokens: 5n })]);
    await recorder.onModuleDestroy();
  });

  it('keeps the counts in memory while Redis is unreachable and buffers them on the next flush', async () => {
    const id = `${credentialId}-redis`;
    await withRedisOutage(
      async (recorder) => {
        recorder.record(answered(id, { usage: { inputTokens: 2, outputTokens: 3 } }));
        await recorder.flush();
        recorder.record(answered(id, { ok: false, status: 500 }));
      },
      (recorder) => recorder.flush(),
    );
    expect(await rows(id)).toEqual([
      expect.objectContaining({ requests: 2, failures: 1, inputTokens: 2n, outputTokens: 3n }),
    ]);
  });

  it('lets one drainer at a time write (a second one finds the lock taken)', async () => {
    const id = `${credentialId}-lock`;
    await buffer.push([{ day: '2026-01-02', credentialId: id, model: 'm', requests: 1 }]);
    expect(await buffer.lock('someone-else', 5_000)).toBe(true);
    const drain = drainer(prisma);
    expect(await drain.drain()).toBe(0);
    await buffer.unlock('someone-else');
    expect(await drain.drain()).toBe(1);
    expect(await rows(id)).toEqual([expect.objectContaining({ requests: 1 })]);
  });
});

describe('per-request records: scheduler -> Redis buffer -> admin drain -> usage_requests', () => {
  const requestRows = (id: string) =>
    prisma.usageRequest.findMany({ where: { credentialId: id }, orderBy: { requestId: 'asc' } });
  const route = (requestId: string, receivedAt: number) => ({
    requestId,
    clientFormat: 'openai-chat' as const,
    model: 'client-model',
    stream: false,
    sessionIds: [],
    clientKeyId: 'ck9',
    headers: {},
    deadline: receivedAt + 60_000,
    receivedAt,
  });

  it("records the answering attempt and the scheduler's own final replies, once each, through an outage of Postgres", async () => {
    const id = `${credentialId}-req`;
    const recorder = new UsageRecorder(buffer, 60_000);
    const receivedAt = Date.now() - 500;
    recorder.record({
      credentialId: id,
      family: 'claude',
      baseModel: 'm',
      clientKeyId: 'ck9',
      ok: true,
      status: 200,
      usage: { inputTokens: 11, outputTokens: 7, cachedTokens: 3, reasoningTokens: 2 },
      request: {
        requestId: 'r1',
        model: 'client-model',
        attempts: 2,
        receivedAt,
        firstByteAt: receivedAt + 40,
        finishedAt: receivedAt + 250,
      },
    });
    // A failure the scheduler answers itself (every credential refused before the first byte).
    const reply = frame({ status: 429, headers: {}, complete: true }, Buffer.from('{}'));
    expect(
      await recorder.recordReply(reply, route('r2', receivedAt), { credentialId: id, family: 'claude', attempts: 3 }),
    ).toBe(reply);
    // A forward (another attempt follows) is no outcome yet.
    await recorder.recordReply(forward('somewhere', {}), route('r3', receivedAt), {
      credentialId: id,
      family: 'claude',
      attempts: 1,
    });
    await recorder.flush();
    expect(await buffer.pendingRequests()).toBe(1);

    const broken = new PrismaService(UNREACHABLE_POSTGRES);
    await drainer(broken).drain();
    await broken.$disconnect().catch(() => undefined);
    expect(await buffer.pendingRequests()).toBe(1);

    const drain = drainer(prisma);
    await drain.drain();
    expect(await buffer.pendingRequests()).toBe(0);
    const [answered, refused] = await requestRows(id);
    expect(answered).toMatchObject({
      requestId: 'r1',
      clientKeyId: 'ck9',
      family: 'claude',
      model: 'client-model',
      status: 200,
      latencyMs: 250,
      ttfbMs: 40,
      inputTokens: 11n,
      outputTokens: 7n,
      cachedTokens: 3n,
      reasoningTokens: 2n,
      attempts: 2,
      at: new Date(receivedAt),
    });
    expect(refused).toMatchObject({ requestId: 'r2', status: 429, attempts: 3, ttfbMs: null, inputTokens: 0n });
    expect(refused!.latencyMs).toBeGreaterThanOrEqual(500);
    expect(await requestRows(id)).toHaveLength(2);
    const hourly = await prisma.usageHourly.findMany({ where: { credentialId: id } });
    expect(hourly.reduce((sum, h) => sum + h.requests, 0)).toBe(2);
    await recorder.onModuleDestroy();
  });

  it('keeps request records in memory while Redis is unreachable and buffers them on the next flush', async () => {
    const id = `${credentialId}-req-redis`;
    const at = Date.now();
    const request = (requestId: string) => ({ requestId, model: 'm', attempts: 1, receivedAt: at, finishedAt: at + 5 });
    await withRedisOutage(
      async (recorder) => {
        recorder.record(answered(id, { request: request('x1'), usage: { inputTokens: 1, outputTokens: 1 } }));
        await recorder.flush();
        recorder.record(answered(id, { request: request('x2') }));
      },
      (recorder) => recorder.flush(),
    );
    expect((await requestRows(id)).map((r) => r.requestId)).toEqual(['x1', 'x2']);
  });
});
