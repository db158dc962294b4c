import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, UsageRepository, type PrismaClient } from '@cpa/db';
import { UsageBuffer } from './usage-buffer';
import { UsageDrain } from './usage-drain';
import { UsageRecorder } from './usage-recorder';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = `cpa-test:usage:${randomUUID()}:`;
const credentialId = `usage-recorder-${process.pid}-${Date.now()}`;
let prisma: PrismaClient;
let buffer: UsageBuffer;

beforeAll(() => {
  prisma = createPrismaClient(process.env.DATABASE_URL!);
  buffer = new UsageBuffer({ redisUrl, keyPrefix });
});
afterAll(async () => {
  await prisma.usageDaily.deleteMany({ where: { credentialId: { startsWith: credentialId } } });
  await prisma.$disconnect();
  buffer.onModuleDestroy();
  const { deleteKeys } = await import('../../../tools/redis-keys.mjs');
  await deleteKeys(redisUrl, keyPrefix);
});

const rows = (id = credentialId) => prisma.usageDaily.findMany({ where: { credentialId: id }, orderBy: { model: 'asc' } });

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

    const drain = new UsageDrain(buffer, new UsageRepository(prisma as never), 0);
    expect(await drain.drain()).toBe(1);
    expect(await buffer.pending()).toBe(0);
    const [m1, m2] = await rows();
    expect(m1).toMatchObject({ model: 'm1', clientKeyId: 'ck1', requests: 3, failures: 1, inputTokens: 11n, outputTokens: 6n, cachedTokens: 2n, reasoningTokens: 3n });
    expect(m2).toMatchObject({ model: 'm2', requests: 1, failures: 0 });
    await recorder.onModuleDestroy();
  });

  it('keeps usage in Redis while Postgres is unreachable and writes it when it is back', async () => {
    const id = `${credentialId}-outage`;
    const recorder = new UsageRecorder(buffer, 60_000);
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: true, status: 200, usage: { inputTokens: 4, outputTokens: 4 } });
    await recorder.flush();
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: true, status: 200, usage: { inputTokens: 1, outputTokens: 1 } });
    await recorder.flush();

    const broken = createPrismaClient('postgresql://postgres@127.0.0.1:1/nowhere');
    const failing = new UsageDrain(buffer, new UsageRepository(broken as never), 0);
    expect(await failing.drain()).toBe(0);
    expect(await buffer.pending()).toBe(2);
    await broken.$disconnect().catch(() => undefined);

    expect(await new UsageDrain(buffer, new UsageRepository(prisma as never), 0).drain()).toBe(2);
    expect(await rows(id)).toEqual([expect.objectContaining({ requests: 2, inputTokens: 5n, outputTokens: 5n })]);
    await recorder.onModuleDestroy();
  });

  it('keeps the counts in memory while Redis is unreachable and buffers them on the next flush', async () => {
    const id = `${credentialId}-redis`;
    const down = new UsageBuffer({ redisUrl: 'redis://127.0.0.1:1', keyPrefix });
    const recorder = new UsageRecorder(down, 60_000);
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: true, status: 200, usage: { inputTokens: 2, outputTokens: 3 } });
    await recorder.flush();
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: false, status: 500 });
    // Redis is back (the same pending rows, now pushed through a working buffer).
    Object.assign(recorder, { buffer });
    await recorder.flush();
    down.onModuleDestroy();
    await new UsageDrain(buffer, new UsageRepository(prisma as never), 0).drain();
    expect(await rows(id)).toEqual([expect.objectContaining({ requests: 2, failures: 1, inputTokens: 2n, outputTokens: 3n })]);
    await recorder.onModuleDestroy();
  });

  it('lets one drainer at a time write (a second one finds the lock taken)', async () => {
    const id = `${credentialId}-lock`;
    await buffer.push([{ day: '2026-01-02', credentialId: id, model: 'm', requests: 1 }]);
    expect(await buffer.lock('someone-else', 5_000)).toBe(true);
    const drain = new UsageDrain(buffer, new UsageRepository(prisma as never), 0);
    expect(await drain.drain()).toBe(0);
    await buffer.unlock('someone-else');
    expect(await drain.drain()).toBe(1);
    expect(await rows(id)).toEqual([expect.objectContaining({ requests: 1 })]);
  });
});
