import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsRepository, UsageRequestRepository, type UsageRequestRecord } from '@cpa/db';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { DEFAULT_USAGE_RETENTION_DAYS, UsageRetention, usageRetentionDays } from './usage-retention';

const DAY = 86_400_000;
const NOW = new Date('2030-06-30T12:00:00Z');
let db: TestDatabase;
let requests: UsageRequestRepository;
let settings: SettingsRepository;
beforeAll(async () => {
  db = await createTestDatabase('cpa_usage_retention');
  requests = new UsageRequestRepository(db.prisma);
  settings = new SettingsRepository(db.prisma);
});
afterAll(() => db?.close());

let seq = 0;
const aged = (days: number): UsageRequestRecord => ({
  key: `r${++seq}`,
  requestId: '',
  at: NOW.getTime() - days * DAY,
  clientKeyId: '',
  credentialId: 'c',
  family: 'claude',
  model: 'm',
  status: 200,
  latencyMs: 10,
  ttfbMs: null,
  inputTokens: 1,
  outputTokens: 1,
  cachedTokens: 0,
  reasoningTokens: 0,
  attempts: 1,
});
const stored = async () =>
  (await db.prisma.usageRequest.findMany({ orderBy: { at: 'asc' } })).map((r) =>
    Math.round((NOW.getTime() - r.at.getTime()) / DAY),
  );
const rolledUp = async () => (await db.prisma.usageHourly.aggregate({ _sum: { requests: true } }))._sum.requests;

describe('usageRetentionDays', () => {
  it('takes the setting, else the environment, else 30 days; 0 keeps rows for good', () => {
    expect(usageRetentionDays(7, '90')).toBe(7);
    expect(usageRetentionDays(undefined, '90')).toBe(90);
    expect(usageRetentionDays(0, '90')).toBe(0);
    expect(usageRetentionDays(undefined, undefined)).toBe(DEFAULT_USAGE_RETENTION_DAYS);
    expect(usageRetentionDays('x', 'soon')).toBe(30);
    expect(usageRetentionDays(-1, '')).toBe(30);
  });
});

describe('UsageRetention', () => {
  it('deletes per-request rows past the configured retention and keeps the roll-ups', async () => {
    await requests.write([aged(40), aged(31), aged(29), aged(1)]);
    const retention = new UsageRetention(requests, settings, 0);
    expect(await retention.sweep(NOW)).toBe(2); // default: 30 days
    expect(await stored()).toEqual([29, 1]);
    expect(await rolledUp()).toBe(4);

    await settings.set('usage-retention-days', 7); // config.yaml's usage-retention-days
    expect(await retention.sweep(NOW)).toBe(1);
    expect(await stored()).toEqual([1]);

    await settings.set('usage-retention-days', 0);
    await requests.write([aged(400)]);
    expect(await retention.sweep(NOW)).toBe(0);
    expect(await stored()).toEqual([400, 1]);
    expect(await rolledUp()).toBe(5);
  });

  it('runs one sweep at a time across replicas and never rejects (a database outage is logged, not thrown)', async () => {
    await settings.set('usage-retention-days', 30);
    await requests.write([aged(50), aged(60)]);
    const [a, b] = [new UsageRetention(requests, settings, 0), new UsageRetention(requests, settings, 0)];
    const [x, y] = await Promise.all([a.sweep(NOW), b.sweep(NOW)]);
    expect(x + y).toBe(3); // 400-day row too; each row deleted once
    expect(await stored()).toEqual([1]);

    const broken = new UsageRetention(
      requests,
      { get: async () => Promise.reject(new Error('database unavailable')) } as never,
      0,
    );
    expect(await broken.sweep(NOW)).toBe(0);
  });
});
