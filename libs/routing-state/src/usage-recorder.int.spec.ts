import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, UsageRepository, type PrismaClient } from '@cpa/db';
import { UsageRecorder } from './usage-recorder';

const credentialId = `usage-recorder-${process.pid}-${Date.now()}`;
let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(process.env.DATABASE_URL!);
});
afterAll(async () => {
  await prisma.usageDaily.deleteMany({ where: { credentialId: { startsWith: credentialId } } });
  await prisma.$disconnect();
});

const rows = () => prisma.usageDaily.findMany({ where: { credentialId: { startsWith: credentialId } }, orderBy: { model: 'asc' } });

describe('UsageRecorder', () => {
  it('sums attempts in memory and writes them in one flush', async () => {
    const recorder = new UsageRecorder(new UsageRepository(prisma as never), 60_000);
    const base = { credentialId, family: 'claude' as const, baseModel: 'm1', clientKeyId: 'ck1', status: 200 };
    recorder.record({ ...base, ok: true, usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 2 } });
    recorder.record({ ...base, ok: true, usage: { inputTokens: 1, outputTokens: 1, reasoningTokens: 3 } });
    recorder.record({ ...base, ok: false, status: 500 });
    recorder.record({ ...base, baseModel: 'm2', ok: true });
    expect(await rows()).toHaveLength(0);
    await recorder.flush();
    const [m1, m2] = await rows();
    expect({ ...m1, day: undefined }).toMatchObject({ model: 'm1', clientKeyId: 'ck1', requests: 3, failures: 1, inputTokens: 11n, outputTokens: 6n, cachedTokens: 2n, reasoningTokens: 3n });
    expect(m2).toMatchObject({ model: 'm2', requests: 1, failures: 0 });
    await recorder.onModuleDestroy();
  });

  it('keeps the counts when Postgres is unreachable and writes them on the next flush', async () => {
    const broken = createPrismaClient('postgresql://postgres@127.0.0.1:1/nowhere');
    const failing = new UsageRepository(broken as never);
    const recorder = new UsageRecorder(failing, 60_000);
    const id = `${credentialId}-outage`;
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: true, status: 200, usage: { inputTokens: 4, outputTokens: 4 } });
    await recorder.flush();
    recorder.record({ credentialId: id, family: 'claude', baseModel: 'm', ok: true, status: 200, usage: { inputTokens: 1, outputTokens: 1 } });
    // The same pending rows, now flushed through a working repository.
    Object.assign(recorder, { usage: new UsageRepository(prisma as never) });
    await recorder.flush();
    const [row] = await prisma.usageDaily.findMany({ where: { credentialId: id } });
    expect(row).toMatchObject({ requests: 2, inputTokens: 5n, outputTokens: 5n });
    await recorder.onModuleDestroy();
    await broken.$disconnect().catch(() => undefined);
  });
});
