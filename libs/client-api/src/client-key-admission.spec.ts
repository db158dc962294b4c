import { describe, expect, it } from 'vitest';
import { policyOf, type AdmitResult, type ClientKeyLimits, type ClientKeyPolicy } from '@cpa/catalog';
import { ClientKeyAdmission, keyRefusal } from './client-key-admission';

const NOW = Date.UTC(2026, 10, 30, 8);
const client = (policy: Partial<ClientKeyPolicy>) => ({ id: 'k1', label: 'team', policy: policyOf(policy) });

/** A limits store answering `result` (or failing like an unreachable Redis), recording its calls. */
function limits(result: AdmitResult | Error) {
  const calls: string[] = [];
  const store = {
    admit: async (id: string) => {
      calls.push(id);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { store: store as unknown as ClientKeyLimits, calls };
}

const refused = (counters: Partial<AdmitResult['counters']>, refusal: AdmitResult['refusal']): AdmitResult => ({
  admitted: false,
  refusal,
  counters: { requestsInWindow: 0, rpmPivotAt: -1, tokenBuckets: [], dayTokens: 0, monthTokens: 0, ...counters },
});

describe('ClientKeyAdmission', () => {
  it('refuses a model outside the allowed list with 403 in each format, without touching Redis', async () => {
    const { store, calls } = limits(new Error('must not be called'));
    const admission = new ClientKeyAdmission(store);
    const key = client({ models: ['claude-*'], rpmLimit: 5 });
    expect(await admission.admit('openai-chat', key, 'gpt-4o', NOW)).toEqual({
      status: 403,
      body: {
        error: {
          message: 'This client key may not use model gpt-4o',
          type: 'invalid_request_error',
          code: 'model_not_found',
        },
      },
      headers: {},
    });
    expect((await admission.admit('claude', key, 'gpt-4o', NOW))?.body).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'This client key may not use model gpt-4o' },
    });
    expect((await admission.admit('gemini', key, 'gpt-4o', NOW))?.body).toEqual({
      error: { code: 403, message: 'This client key may not use model gpt-4o', status: 'PERMISSION_DENIED' },
    });
    expect(calls).toEqual([]);
  });

  it('admits keys without limits or budgets without asking Redis', async () => {
    const { store, calls } = limits(new Error('must not be called'));
    expect(
      await new ClientKeyAdmission(store).admit('openai-chat', client({ models: ['gpt-*'] }), 'gpt-4o', NOW),
    ).toBeNull();
    expect(calls).toEqual([]);
  });

  it('answers a reached rate limit with 429, Retry-After and the format’s rate-limit error', async () => {
    const { store } = limits(
      refused({ requestsInWindow: 2 }, { kind: 'rpm', limit: 2, used: 2, retryAfterMs: 41_500 }),
    );
    const answer = await new ClientKeyAdmission(store).admit('claude', client({ rpmLimit: 2 }), 'claude-x', NOW);
    expect(answer).toEqual({
      status: 429,
      headers: { 'retry-after': '42' },
      body: {
        type: 'error',
        error: {
          type: 'rate_limit_error',
          message: 'Rate limit reached for this client key: 2 requests per minute; retry after 42 s',
        },
      },
    });
  });

  it('answers a spent budget with 429 and LiteLLM’s budget_exceeded type in the OpenAI format', async () => {
    const { store } = limits(
      refused({ dayTokens: 120 }, { kind: 'daily_budget', limit: 100, used: 120, retryAfterMs: 3_600_000 }),
    );
    const answer = await new ClientKeyAdmission(store).admit(
      'openai-chat',
      client({ dailyTokenBudget: 100 }),
      'gpt-4o',
      NOW,
    );
    expect(answer?.status).toBe(429);
    expect(answer?.headers).toEqual({ 'retry-after': '3600' });
    expect(answer?.body).toEqual({
      error: {
        message: "This client key's token budget is spent: 120 of 100 tokens per day (UTC); it renews in 3600 s",
        type: 'budget_exceeded',
        code: 'budget_exceeded',
      },
    });
    const gemini = await new ClientKeyAdmission(store).admit(
      'gemini',
      client({ dailyTokenBudget: 100 }),
      'gpt-4o',
      NOW,
    );
    expect((gemini?.body as { error: { status: string } }).error.status).toBe('RESOURCE_EXHAUSTED');
  });

  it('fails closed with a fast 503 when Redis cannot be reached', async () => {
    const { store } = limits(new Error('Redis is unreachable'));
    const answer = await new ClientKeyAdmission(store).admit('openai-chat', client({ rpmLimit: 1 }), 'gpt-4o', NOW);
    expect(answer?.status).toBe(503);
    expect(answer?.headers).toEqual({ 'retry-after': '1' });
  });

  it('lets an admitted request through', async () => {
    const { store, calls } = limits({
      admitted: true,
      refusal: null,
      counters: { requestsInWindow: 0, rpmPivotAt: -1, tokenBuckets: [], dayTokens: 0, monthTokens: 0 },
    });
    expect(await new ClientKeyAdmission(store).admit('openai-chat', client({ rpmLimit: 1 }), 'gpt-4o', NOW)).toBeNull();
    expect(calls).toEqual(['k1']);
  });
});

describe('keyRefusal', () => {
  it('answers disabled and expired keys with 401 in the client’s format, saying which', () => {
    expect(keyRefusal('openai-chat', 'disabled')).toEqual({
      status: 401,
      headers: {},
      body: {
        error: { message: 'This client key is disabled', type: 'authentication_error', code: 'invalid_api_key' },
      },
    });
    expect(keyRefusal('claude', 'expired', Date.UTC(2026, 0, 2)).body).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'This client key expired at 2026-01-02T00:00:00.000Z' },
    });
    expect((keyRefusal('gemini', 'disabled').body as { error: { status: string } }).error.status).toBe(
      'UNAUTHENTICATED',
    );
  });
});
