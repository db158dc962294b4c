import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
import {
  histogramIndex,
  UsageRequestRepository,
  WRITE_CHUNK,
  type UsageRequestRecord,
} from './usage-request.repository';

let db: TestDatabase;
let repo: UsageRequestRepository;
beforeAll(async () => {
  db = await createTestDatabase('cpa_usage_req');
  repo = new UsageRequestRepository(db.prisma);
});
afterAll(() => db?.close());

const T0 = Date.parse('2030-03-01T10:15:00.000Z');
let seq = 0;
const record = (over: Partial<UsageRequestRecord> = {}): UsageRequestRecord => ({
  key: `key-${++seq}`,
  requestId: `req-${seq}`,
  at: T0,
  clientKeyId: 'k1',
  credentialId: 'c1',
  family: 'claude',
  model: 'claude-x',
  status: 200,
  latencyMs: 120,
  ttfbMs: null,
  inputTokens: 10,
  outputTokens: 5,
  cachedTokens: 1,
  reasoningTokens: 2,
  attempts: 1,
  ...over,
});

describe('UsageRequestRepository', () => {
  it('stores each request once and adds it to the hourly roll-up once, histograms included', async () => {
    const a = record({ latencyMs: 100, ttfbMs: 40 });
    const b = record({
      at: T0 + 60_000,
      status: 429,
      latencyMs: 300,
      inputTokens: 7,
      outputTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      attempts: 3,
    });
    expect(await repo.write([a, b])).toBe(2);
    // The drain may write a batch twice (killed between the write and the trim): nothing doubles.
    expect(await repo.write([a, b, record({ at: T0 + 3_600_000 })])).toBe(1);

    const hourly = await db.prisma.usageHourly.findMany({ orderBy: [{ hour: 'asc' }, { status: 'asc' }] });
    expect(hourly).toHaveLength(3);
    const [ok, limited, later] = hourly;
    expect(ok).toMatchObject({
      hour: new Date('2030-03-01T10:00:00Z'),
      status: 200,
      requests: 1,
      inputTokens: 10n,
      outputTokens: 5n,
      cachedTokens: 1n,
      reasoningTokens: 2n,
    });
    expect(ok!.latencyHist[histogramIndex(100)]).toBe(1);
    expect(ok!.ttfbHist[histogramIndex(40)]).toBe(1);
    expect(limited).toMatchObject({ status: 429, requests: 1, inputTokens: 7n });
    expect(limited!.ttfbHist.reduce((s, n) => s + n, 0)).toBe(0);
    expect(later).toMatchObject({ hour: new Date('2030-03-01T11:00:00Z'), requests: 1 });

    // A second write to the same roll-up row adds its histogram element-wise.
    await repo.write([record({ latencyMs: 100, ttfbMs: 40 })]);
    const merged = await db.prisma.usageHourly.findFirstOrThrow({
      where: { hour: new Date('2030-03-01T10:00:00Z'), status: 200 },
    });
    expect(merged).toMatchObject({ requests: 2, inputTokens: 20n });
    expect(merged.latencyHist[histogramIndex(100)]).toBe(2);
  });

  it('writes a large drain in bounded transactions, counting each request once across them', async () => {
    const bulk = Array.from({ length: 2 * WRITE_CHUNK + 7 }, () =>
      record({ clientKeyId: 'bulk', at: Date.parse('2030-04-01T08:30:00Z') }),
    );
    // Part of it is stored already (a drain that failed after its first chunk, then retried).
    expect(await repo.write(bulk.slice(0, 3))).toBe(3);
    const transactions = vi.spyOn(db.prisma, '$transaction');
    try {
      expect(await repo.write(bulk)).toBe(bulk.length - 3);
      expect(transactions).toHaveBeenCalledTimes(3);
    } finally {
      transactions.mockRestore();
    }
    const hourly = await db.prisma.usageHourly.findFirstOrThrow({ where: { clientKeyId: 'bulk' } });
    expect(hourly).toMatchObject({ requests: bulk.length, inputTokens: BigInt(10 * bulk.length) });
  });

  it('lists newest first with filters and keyset pagination over equal timestamps', async () => {
    const at = Date.parse('2030-04-01T00:00:00Z');
    await repo.write([
      record({ key: 'p1', at, model: 'page' }),
      record({ key: 'p2', at, model: 'page', status: 500 }),
      record({ key: 'p3', at: at + 1, model: 'page', clientKeyId: 'k2' }),
    ]);
    const filter = { model: 'page' };
    const first = await repo.list(filter, 2);
    expect(first.map((r) => r.status)).toHaveLength(2);
    expect(first[0]!.clientKeyId).toBe('k2');
    const rest = await repo.list(filter, 2, first[1]!.id);
    expect(rest).toHaveLength(1);
    const all = [...first, ...rest].map((r) => r.id);
    expect(new Set(all).size).toBe(3);
    const collected = [];
    for await (const row of repo.each(filter, 1)) collected.push(row.id);
    expect(collected).toEqual(all);

    expect(await repo.list({ ...filter, status: 'error' }, 10)).toEqual([expect.objectContaining({ status: 500 })]);
    expect(await repo.list({ ...filter, clientKeyId: 'k2' }, 10)).toHaveLength(1);
    expect(await repo.list({ ...filter, from: new Date(at + 1) }, 10)).toHaveLength(1);
    expect(await repo.list({ ...filter, to: new Date(at + 1) }, 10)).toHaveLength(2);
  });

  it('sums the roll-up per hour and per day with errors and merged histograms', async () => {
    const day = Date.parse('2030-05-02T00:00:00Z');
    await repo.write([
      record({ at: day + 3_600_000, model: 'sum', latencyMs: 10, inputTokens: 1, outputTokens: 1 }),
      record({ at: day + 3_600_000 + 5, model: 'sum', status: 503, latencyMs: 20, inputTokens: 2, outputTokens: 0 }),
      record({ at: day + 5 * 3_600_000, model: 'sum', latencyMs: 10, ttfbMs: 5, inputTokens: 4, outputTokens: 3 }),
    ]);
    const hours = await repo.buckets({ model: 'sum' }, 'hour');
    expect(hours.map((h) => [h.start.toISOString(), h.requests, h.errors, h.inputTokens])).toEqual([
      ['2030-05-02T01:00:00.000Z', 2, 1, 3],
      ['2030-05-02T05:00:00.000Z', 1, 0, 4],
    ]);
    const [daily] = await repo.buckets({ model: 'sum' }, 'day');
    expect(daily).toMatchObject({ requests: 3, errors: 1, inputTokens: 7, outputTokens: 4 });
    expect(daily!.latencyHist[histogramIndex(10)]).toBe(2);
    expect(daily!.latencyHist[histogramIndex(20)]).toBe(1);
    expect(daily!.ttfbHist[histogramIndex(5)]).toBe(1);
    expect(await repo.buckets({ model: 'sum', status: 'error' }, 'day')).toEqual([
      expect.objectContaining({ requests: 1, errors: 1 }),
    ]);
    expect(await repo.buckets({ model: 'sum', from: new Date(day + 2 * 3_600_000) }, 'hour')).toHaveLength(1);
  });

  it('imports records once, recognising stored requests by their fields', async () => {
    const at = Date.parse('2030-06-01T08:00:00.250Z');
    await repo.write([record({ key: 'live', at, model: 'imp' })]);
    const { key: _, ...same } = record({ at, model: 'imp', latencyMs: 999 });
    const other = { ...same, inputTokens: 99, source: 'someone@example.com' };
    expect(await repo.import([{ ...same, source: '' }, other, other])).toEqual({ added: 1, skipped: 2 });
    expect(await repo.import([other])).toEqual({ added: 0, skipped: 1 });
    const rows = await repo.list({ model: 'imp' }, 10);
    expect(rows.map((r) => r.inputTokens).sort()).toEqual([10, 99]);
    expect(rows.find((r) => r.inputTokens === 99)).toMatchObject({ source: 'someone@example.com' });
  });

  it("sums each client key's requests and tokens of the day and of the month, and finds its newest request", async () => {
    const dayStart = new Date('2030-07-15T00:00:00Z');
    const monthStart = new Date('2030-07-01T00:00:00Z');
    await repo.write([
      record({ clientKeyId: 'ck-a', at: Date.parse('2030-06-30T23:59:59Z'), inputTokens: 1000, outputTokens: 1000 }), // last month
      record({ clientKeyId: 'ck-a', at: Date.parse('2030-07-02T10:00:00Z'), inputTokens: 100, outputTokens: 20 }),
      record({
        clientKeyId: 'ck-a',
        at: Date.parse('2030-07-15T00:00:00Z'),
        inputTokens: 3,
        outputTokens: 4,
        cachedTokens: 50,
      }),
      record({
        clientKeyId: 'ck-a',
        at: Date.parse('2030-07-15T09:30:00.125Z'),
        status: 500,
        inputTokens: 0,
        outputTokens: 0,
      }),
      record({ clientKeyId: 'ck-b', at: Date.parse('2030-07-15T08:00:00Z'), inputTokens: 5, outputTokens: 5 }),
    ]);
    const usage = await repo.clientKeyUsage(['ck-a', 'ck-b', 'ck-never'], { dayStart, monthStart });
    expect(usage.get('ck-a')).toEqual({
      requestsToday: 2,
      tokensToday: 7,
      tokensMonth: 127,
      lastUsedAt: Date.parse('2030-07-15T09:30:00.125Z'),
    });
    expect(usage.get('ck-b')).toEqual({
      requestsToday: 1,
      tokensToday: 10,
      tokensMonth: 10,
      lastUsedAt: Date.parse('2030-07-15T08:00:00Z'),
    });
    expect(usage.get('ck-never')).toEqual({ requestsToday: 0, tokensToday: 0, tokensMonth: 0, lastUsedAt: null });
    expect(await repo.clientKeyUsage([], { dayStart, monthStart })).toEqual(new Map());
  });

  it('deletes per-request rows past the cutoff and keeps the roll-up', async () => {
    const old = Date.parse('2020-01-01T00:00:00Z');
    await repo.write([record({ at: old, model: 'old' }), record({ at: old + 1, model: 'old' })]);
    const hourlyBefore = await db.prisma.usageHourly.count({ where: { model: 'old' } });
    expect(await repo.deleteOlderThan(new Date(old + 1))).toBe(1);
    expect(await repo.list({ model: 'old' }, 10)).toHaveLength(1);
    expect(await db.prisma.usageHourly.count({ where: { model: 'old' } })).toBe(hourlyBefore);
  });

  it('lets one replica sweep at a time (another holding the lock makes the sweep stop)', async () => {
    const old = Date.parse('2020-02-01T00:00:00Z');
    await repo.write([record({ at: old, model: 'locked' })]);
    await db.raw.query('BEGIN');
    await db.raw.query('SELECT pg_advisory_xact_lock($1::bigint)', [0x75736167]);
    try {
      expect(await repo.deleteOlderThan(new Date(old + 1))).toBe(0);
    } finally {
      await db.raw.query('COMMIT');
    }
    expect(await repo.list({ model: 'locked' }, 10)).toHaveLength(1);
    expect(await repo.deleteOlderThan(new Date(old + 1))).toBeGreaterThanOrEqual(1);
    expect(await repo.list({ model: 'locked' }, 10)).toHaveLength(0);
  });
});
