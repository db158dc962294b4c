import { describe, expect, it } from 'vitest';
import {
  budgetPeriods,
  hasCountedLimits,
  hasTokenLimits,
  isExpired,
  LIMIT_WINDOW_MS,
  limitRefusal,
  modelAllowed,
  policyOf,
  retryAfterSeconds,
  UNLIMITED_POLICY,
  type LimitCounters,
} from './client-key-policy';

const NOW = Date.UTC(2026, 10, 30, 8, 0, 0, 250);
const quiet: LimitCounters = { requestsInWindow: 0, rpmPivotAt: -1, tokenBuckets: [], dayTokens: 0, monthTokens: 0 };

describe('modelAllowed', () => {
  it('allows every model when the key names none', () => {
    expect(modelAllowed([], 'anything')).toBe(true);
  });

  it('matches exact names case-sensitively', () => {
    expect(modelAllowed(['gpt-4o-mini'], 'gpt-4o-mini')).toBe(true);
    expect(modelAllowed(['gpt-4o-mini'], 'gpt-4o')).toBe(false);
    expect(modelAllowed(['gpt-4o-mini'], 'GPT-4o-mini')).toBe(false);
    expect(modelAllowed(['gpt-4o-mini'], 'gpt-4o-mini-2024')).toBe(false);
  });

  it('lets * stand for any run of characters, anywhere in the pattern', () => {
    expect(modelAllowed(['claude-*'], 'claude-sonnet-4-5')).toBe(true);
    expect(modelAllowed(['claude-*'], 'claude-')).toBe(true);
    expect(modelAllowed(['claude-*'], 'my-claude-x')).toBe(false);
    expect(modelAllowed(['*-mini'], 'gpt-4o-mini')).toBe(true);
    expect(modelAllowed(['*-mini'], 'gpt-4o-mini-high')).toBe(false);
    expect(modelAllowed(['gemini-*-flash*'], 'gemini-2.5-flash-lite')).toBe(true);
    expect(modelAllowed(['gemini-*-flash*'], 'gemini-2.5-pro')).toBe(false);
    expect(modelAllowed(['*'], 'whatever/model:with.dots')).toBe(true);
  });

  it('treats regular-expression characters in patterns literally', () => {
    expect(modelAllowed(['gpt-4.1'], 'gpt-4x1')).toBe(false);
    expect(modelAllowed(['a.b*'], 'axb-1')).toBe(false);
    expect(modelAllowed(['a.b*'], 'a.b-1')).toBe(true);
    expect(modelAllowed(['(x)+*'], '(x)+y')).toBe(true);
  });

  it('allows a model matching any one of several patterns', () => {
    expect(modelAllowed(['gpt-4o', 'claude-*'], 'claude-haiku')).toBe(true);
    expect(modelAllowed(['gpt-4o', 'claude-*'], 'gemini-pro')).toBe(false);
  });
});

describe('policyOf, hasCountedLimits, hasTokenLimits and isExpired', () => {
  it('reads a snapshot entry of an older admin (no policy fields) as unlimited', () => {
    expect(policyOf({})).toEqual(UNLIMITED_POLICY);
    expect(hasCountedLimits(UNLIMITED_POLICY)).toBe(false);
  });

  it('needs Redis as soon as any counted limit or budget is set, but not for models or expiry', () => {
    expect(hasCountedLimits(policyOf({ models: ['x'], expiresAt: NOW }))).toBe(false);
    for (const field of ['rpmLimit', 'tpmLimit', 'dailyTokenBudget', 'monthlyTokenBudget'] as const) {
      expect(hasCountedLimits(policyOf({ [field]: 1 }))).toBe(true);
    }
  });

  it('charges tokens only to keys with a tpm limit or a budget: an rpm limit counts admissions, not tokens', () => {
    expect(hasTokenLimits(UNLIMITED_POLICY)).toBe(false);
    expect(hasTokenLimits(policyOf({ rpmLimit: 5, models: ['x'], expiresAt: NOW }))).toBe(false);
    for (const field of ['tpmLimit', 'dailyTokenBudget', 'monthlyTokenBudget'] as const) {
      expect(hasTokenLimits(policyOf({ [field]: 1 }))).toBe(true);
    }
  });

  it('expires a key at its expiry instant, not before', () => {
    expect(isExpired(policyOf({ expiresAt: NOW }), NOW - 1)).toBe(false);
    expect(isExpired(policyOf({ expiresAt: NOW }), NOW)).toBe(true);
    expect(isExpired(UNLIMITED_POLICY, NOW)).toBe(false);
  });
});

describe('budgetPeriods', () => {
  it('names the UTC day and month and when each ends', () => {
    expect(budgetPeriods(NOW)).toEqual({
      day: '2026-11-30',
      month: '2026-11',
      dayEndsAt: Date.UTC(2026, 11, 1),
      monthEndsAt: Date.UTC(2026, 11, 1),
    });
  });

  it('rolls over years, leap days and the last millisecond of a day', () => {
    const endOfYear = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    expect(budgetPeriods(endOfYear)).toMatchObject({
      day: '2026-12-31',
      month: '2026-12',
      dayEndsAt: Date.UTC(2027, 0, 1),
      monthEndsAt: Date.UTC(2027, 0, 1),
    });
    expect(budgetPeriods(endOfYear + 1)).toMatchObject({ day: '2027-01-01', month: '2027-01' });
    expect(budgetPeriods(Date.UTC(2028, 1, 29, 12))).toMatchObject({
      day: '2028-02-29',
      dayEndsAt: Date.UTC(2028, 2, 1),
      monthEndsAt: Date.UTC(2028, 2, 1),
    });
  });
});

describe('limitRefusal', () => {
  it('admits when every count is under its limit, and ignores limits of 0', () => {
    const policy = policyOf({ rpmLimit: 3, tpmLimit: 100, dailyTokenBudget: 1000, monthlyTokenBudget: 5000 });
    expect(
      limitRefusal(
        policy,
        { ...quiet, requestsInWindow: 2, tokenBuckets: [[1, 99]], dayTokens: 999, monthTokens: 4999 },
        NOW,
      ),
    ).toBeNull();
    expect(
      limitRefusal(
        UNLIMITED_POLICY,
        { ...quiet, requestsInWindow: 1e9, tokenBuckets: [[1, 1e9]], dayTokens: 1e12, monthTokens: 1e12 },
        NOW,
      ),
    ).toBeNull();
  });

  it('refuses the request after the rpm-th, until the pivot admission leaves the minute', () => {
    const pivot = NOW - 20_000;
    const refusal = limitRefusal(policyOf({ rpmLimit: 3 }), { ...quiet, requestsInWindow: 3, rpmPivotAt: pivot }, NOW);
    expect(refusal).toEqual({ kind: 'rpm', limit: 3, used: 3, retryAfterMs: pivot + LIMIT_WINDOW_MS - NOW });
    expect(retryAfterSeconds(refusal!)).toBe(40);
  });

  it('waits for as many tpm buckets to leave the minute as it takes to get under the limit', () => {
    const second = Math.floor(NOW / 1000);
    const buckets: [number, number][] = [
      [second - 10, 30],
      [second - 50, 50],
      [second - 30, 40],
    ];
    // 120 tokens, limit 100: the oldest (50, 50 s ago) leaves -> 70 < 100.
    const one = limitRefusal(policyOf({ tpmLimit: 100 }), { ...quiet, tokenBuckets: buckets }, NOW);
    expect(one).toEqual({
      kind: 'tpm',
      limit: 100,
      used: 120,
      retryAfterMs: (second - 50) * 1000 + LIMIT_WINDOW_MS - NOW,
    });
    // limit 50: the two oldest must leave (50 + 40) -> 30 < 50.
    const two = limitRefusal(policyOf({ tpmLimit: 50 }), { ...quiet, tokenBuckets: buckets }, NOW);
    expect(two?.retryAfterMs).toBe((second - 30) * 1000 + LIMIT_WINDOW_MS - NOW);
    expect(retryAfterSeconds(two!)).toBe(30);
  });

  it('refuses a spent daily budget until the next UTC midnight, and a monthly one until the next month', () => {
    const daily = limitRefusal(policyOf({ dailyTokenBudget: 500 }), { ...quiet, dayTokens: 500 }, NOW);
    expect(daily).toEqual({ kind: 'daily_budget', limit: 500, used: 500, retryAfterMs: Date.UTC(2026, 11, 1) - NOW });
    const mid = Date.UTC(2026, 10, 10, 12);
    const monthly = limitRefusal(policyOf({ monthlyTokenBudget: 500 }), { ...quiet, monthTokens: 501 }, mid);
    expect(monthly).toEqual({
      kind: 'monthly_budget',
      limit: 500,
      used: 501,
      retryAfterMs: Date.UTC(2026, 11, 1) - mid,
    });
  });

  it('reports the limit that clears last when several refuse', () => {
    const policy = policyOf({ rpmLimit: 1, dailyTokenBudget: 10 });
    const noon = Date.UTC(2026, 10, 30, 12);
    expect(
      limitRefusal(policy, { ...quiet, requestsInWindow: 1, rpmPivotAt: noon - 1000, dayTokens: 10 }, noon)?.kind,
    ).toBe('daily_budget');
    const late = Date.UTC(2026, 10, 30, 23, 59, 59, 900);
    const refusal = limitRefusal(
      policy,
      { ...quiet, requestsInWindow: 1, rpmPivotAt: late - 1000, dayTokens: 10 },
      late,
    );
    expect(refusal).toEqual({ kind: 'rpm', limit: 1, used: 1, retryAfterMs: LIMIT_WINDOW_MS - 1000 });
  });

  it('never asks for less than a second', () => {
    expect(retryAfterSeconds({ retryAfterMs: 0 })).toBe(1);
    expect(retryAfterSeconds({ retryAfterMs: 1001 })).toBe(2);
  });
});
