import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientKeyLimits } from './client-key-limits';
import { LIMIT_WINDOW_MS, limitRefusal, policyOf } from './client-key-policy';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}client-key-limits:${randomUUID()}:`;
const NOW = Date.UTC(2026, 10, 30, 10, 0, 0, 0);
let pods: ClientKeyLimits[];
let redis: Redis;
let keyCount = 0;
const newKey = () => `key-${++keyCount}`;

beforeAll(() => {
  // Two stores with connections of their own, as two gateway pods have.
  pods = [new ClientKeyLimits(redisUrl, keyPrefix), new ClientKeyLimits(redisUrl, keyPrefix)];
  redis = new Redis(redisUrl);
});
afterAll(async () => {
  for (const pod of pods) pod.onModuleDestroy();
  redis.disconnect();
  const { deleteKeys } = await import('../../../tools/redis-keys.mjs');
  await deleteKeys(redisUrl, keyPrefix);
});

describe('ClientKeyLimits (Redis)', () => {
  it('admits exactly rpm requests per sliding minute across pods, even when they race', async () => {
    const id = newKey();
    const policy = policyOf({ rpmLimit: 7 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pods[i % 2]!.admit(id, policy, NOW + i)));
    expect(results.filter((r) => r.admitted)).toHaveLength(7);
    const refusals = results.filter((r) => !r.admitted);
    expect(refusals).toHaveLength(13);
    for (const refusal of refusals) expect(refusal.refusal?.kind).toBe('rpm');
  });

  it('frees a slot when the oldest admission leaves the window, and says when in Retry-After terms', async () => {
    const id = newKey();
    const policy = policyOf({ rpmLimit: 2 });
    expect((await pods[0]!.admit(id, policy, NOW)).admitted).toBe(true);
    expect((await pods[1]!.admit(id, policy, NOW + 10_000)).admitted).toBe(true);
    const refused = await pods[0]!.admit(id, policy, NOW + 15_000);
    expect(refused.refusal).toEqual({ kind: 'rpm', limit: 2, used: 2, retryAfterMs: LIMIT_WINDOW_MS - 15_000 });
    // A refused request is not counted: the window still holds two.
    expect(await redis.zcard(`${keyPrefix}ck:${id}:rpm`)).toBe(2);
    expect((await pods[1]!.admit(id, policy, NOW + LIMIT_WINDOW_MS - 1)).admitted).toBe(false);
    expect((await pods[1]!.admit(id, policy, NOW + LIMIT_WINDOW_MS)).admitted).toBe(true);
  });

  it('after the rpm limit is lowered, waits for enough admissions to leave', async () => {
    const id = newKey();
    for (let i = 0; i < 4; i++) await pods[0]!.admit(id, policyOf({ rpmLimit: 10 }), NOW + i * 1000);
    const refused = await pods[0]!.admit(id, policyOf({ rpmLimit: 2 }), NOW + 5000);
    // Four in the window, limit two: the third oldest (admitted at +2 s) must leave.
    expect(refused.refusal).toMatchObject({ kind: 'rpm', used: 4, retryAfterMs: 2000 + LIMIT_WINDOW_MS - 5000 });
  });

  it('refuses once the tokens charged in the last minute reach the tpm limit (post-hoc)', async () => {
    const id = newKey();
    const policy = policyOf({ tpmLimit: 100 });
    expect((await pods[0]!.admit(id, policy, NOW)).admitted).toBe(true);
    await pods[1]!.charge([{ clientKeyId: id, tokens: 60 }], NOW + 1000);
    expect((await pods[0]!.admit(id, policy, NOW + 2000)).admitted).toBe(true);
    await pods[1]!.charge([{ clientKeyId: id, tokens: 45 }], NOW + 3000);
    const refused = await pods[0]!.admit(id, policy, NOW + 4000);
    expect(refused.admitted).toBe(false);
    expect(refused.refusal).toEqual({
      kind: 'tpm',
      limit: 100,
      used: 105,
      retryAfterMs: 1000 + LIMIT_WINDOW_MS - 4000,
    });
    expect(refused.counters.tokenBuckets).toEqual(
      expect.arrayContaining([
        [Math.floor((NOW + 1000) / 1000), 60],
        [Math.floor((NOW + 3000) / 1000), 45],
      ]),
    );
    // The 60 tokens leave the window: 45 < 100.
    expect((await pods[0]!.admit(id, policy, NOW + 1000 + LIMIT_WINDOW_MS)).admitted).toBe(true);
  });

  it('stops a key whose daily budget is spent until the next UTC day, and counts the month', async () => {
    const id = newKey();
    const policy = policyOf({ dailyTokenBudget: 100, monthlyTokenBudget: 150 });
    expect((await pods[0]!.admit(id, policy, NOW)).admitted).toBe(true);
    await pods[1]!.charge([{ clientKeyId: id, tokens: 99 }], NOW + 1);
    expect((await pods[0]!.admit(id, policy, NOW + 2)).admitted).toBe(true);
    // The running request's tokens push the day over: only the next one is refused.
    await pods[1]!.charge([{ clientKeyId: id, tokens: 30 }], NOW + 3);
    const refused = await pods[0]!.admit(id, policy, NOW + 4);
    expect(refused.refusal).toEqual({
      kind: 'daily_budget',
      limit: 100,
      used: 129,
      retryAfterMs: Date.UTC(2026, 11, 1) - NOW - 4,
    });
    // Next day, same month: 129 of 150 left for the month.
    const tomorrow = Date.UTC(2026, 10, 30) + 24 * 3600 * 1000 - 1;
    expect((await pods[0]!.admit(id, policy, tomorrow)).admitted).toBe(false);
  });

  it('raises a key’s day and month counters to what it spent before, never lowering them', async () => {
    const id = newKey();
    const policy = policyOf({ dailyTokenBudget: 100, monthlyTokenBudget: 1000 });
    await pods[0]!.raiseSpent(id, { day: 60, month: 500 }, NOW);
    expect((await pods[1]!.admit(id, policy, NOW + 1)).counters).toMatchObject({ dayTokens: 60, monthTokens: 500 });
    await pods[1]!.charge(
      [
        { clientKeyId: id, tokens: 30 },
        { clientKeyId: id, tokens: 0 },
      ],
      NOW + 2,
    );
    await pods[0]!.raiseSpent(id, { day: 70, month: 520 }, NOW + 3);
    expect((await pods[1]!.admit(id, policy, NOW + 4)).counters).toMatchObject({ dayTokens: 90, monthTokens: 530 });
    await pods[0]!.raiseSpent(id, { day: 95, month: 540 }, NOW + 5);
    const refused = await pods[1]!.admit(id, policy, NOW + 6);
    expect(refused.counters).toMatchObject({ dayTokens: 95, monthTokens: 540 });
    expect(refused.admitted).toBe(true);
  });

  it('refuses a spent monthly budget, with the wait until the next month', async () => {
    const id = newKey();
    const policy = policyOf({ monthlyTokenBudget: 50 });
    await pods[1]!.charge(
      [
        { clientKeyId: id, tokens: 20 },
        { clientKeyId: id, tokens: 30 },
      ],
      NOW,
    );
    const refused = await pods[0]!.admit(id, policy, NOW + 1);
    expect(refused.refusal).toEqual({
      kind: 'monthly_budget',
      limit: 50,
      used: 50,
      retryAfterMs: Date.UTC(2026, 11, 1) - NOW - 1,
    });
    expect((await pods[0]!.admit(id, policy, Date.UTC(2026, 11, 1))).admitted).toBe(true);
  });

  it('agrees with limitRefusal: the script refuses exactly when the pure function names a limit', async () => {
    const policy = policyOf({ rpmLimit: 3, tpmLimit: 50, dailyTokenBudget: 200 });
    const id = newKey();
    for (let i = 0; i < 12; i++) {
      const at = NOW + i * 7_000;
      const result = await pods[i % 2]!.admit(id, policy, at);
      expect(result.admitted).toBe(limitRefusal(policy, result.counters, at) === null);
      if (result.admitted) await pods[(i + 1) % 2]!.charge([{ clientKeyId: id, tokens: 17 }], at + 500);
    }
  });

  it('fails fast instead of queueing when Redis cannot be reached', async () => {
    const offline = new ClientKeyLimits('redis://127.0.0.1:1', keyPrefix);
    try {
      await expect(offline.admit('k', policyOf({ rpmLimit: 1 }), NOW)).rejects.toThrow();
    } finally {
      offline.onModuleDestroy();
    }
  });
});
