import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
import { UsageRepository, utcDay } from './usage.repository';

let db: TestDatabase;
let repo: UsageRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = new UsageRepository(db.prisma);
});
afterAll(() => db?.close());

describe('UsageRepository', () => {
  it('creates a counter row, then increments it', async () => {
    const base = { day: '2025-02-01', credentialId: 'cred-1', clientKeyId: 'key-1', model: 'gpt-4o' };
    await repo.increment({ ...base, inputTokens: 100, outputTokens: 20 });
    await repo.increment({
      ...base,
      inputTokens: 50,
      outputTokens: 5,
      cachedTokens: 10,
      reasoningTokens: 3,
      failures: 1,
    });
    expect(await repo.query({ from: '2025-02-01', to: '2025-02-01' })).toEqual([
      { ...base, requests: 2, failures: 1, inputTokens: 150, outputTokens: 25, cachedTokens: 10, reasoningTokens: 3 },
    ]);
  });

  it('applies batches, including repeated rows, in one statement', async () => {
    await repo.incrementMany([
      { day: '2025-02-02', credentialId: 'cred-1', model: 'a' },
      { day: '2025-02-02', credentialId: 'cred-1', model: 'a', inputTokens: 7 },
      { day: '2025-02-02', credentialId: 'cred-2', model: 'a', inputTokens: 1 },
    ]);
    await repo.incrementMany([]);
    const rows = await repo.query({ from: '2025-02-02', to: '2025-02-02' });
    expect(rows.map((r) => [r.credentialId, r.clientKeyId, r.requests, r.inputTokens])).toEqual([
      ['cred-1', '', 2, 7],
      ['cred-2', '', 1, 1],
    ]);
  });

  it('loses no increments under concurrency', async () => {
    const entry = { day: '2025-02-03', credentialId: 'cred-c', model: 'm', inputTokens: 3 };
    await Promise.all(Array.from({ length: 25 }, () => repo.increment(entry)));
    const [row] = await repo.query({ from: '2025-02-03', to: '2025-02-03', credentialId: 'cred-c' });
    expect(row).toMatchObject({ requests: 25, inputTokens: 75 });
  });

  it('keeps token counts beyond 32 bits', async () => {
    await repo.increment({ day: '2025-02-04', credentialId: 'big', model: 'm', inputTokens: 3_000_000_000 });
    await repo.increment({ day: '2025-02-04', credentialId: 'big', model: 'm', inputTokens: 3_000_000_000 });
    const [row] = await repo.query({ from: '2025-02-04', to: '2025-02-04', credentialId: 'big' });
    expect(row!.inputTokens).toBe(6_000_000_000);
  });

  it('queries an inclusive day range with filters, defaulting the day to today (UTC)', async () => {
    await repo.increment({ credentialId: 'today', model: 'm' });
    const today = utcDay();
    expect(await repo.query({ from: today, to: new Date(), credentialId: 'today' })).toHaveLength(1);
    const range = await repo.query({ from: '2025-02-01', to: '2025-02-02', credentialId: 'cred-1' });
    expect(range.map((r) => [r.day, r.model])).toEqual([
      ['2025-02-01', 'gpt-4o'],
      ['2025-02-02', 'a'],
    ]);
    expect(
      await repo.query({ from: '2025-02-01', to: '2025-02-04', model: 'gpt-4o', clientKeyId: 'key-1' }),
    ).toHaveLength(1);
  });
});
