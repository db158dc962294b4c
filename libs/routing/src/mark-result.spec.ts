import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  coolingSettingsOf,
  isModelUnsupportedMessage,
  isRequestInvalidError,
  markResult,
  nextQuotaBackoff,
  parseGoogleRetryDelay,
  parseRetryAfterHeader,
  quotaCooldown,
  resolveCoolingPolicy,
  retryHintMs,
  type CoolingPolicy,
} from './mark-result';
import { emptyQuota, isBlockedForModel, newCredentialState, type CredentialState } from './model-state';

const NOW = 1_700_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;

function fail(status: number, message = 'boom', extra: { retryAfterMs?: number; model?: string } = {}) {
  return {
    success: false,
    model: extra.model ?? 'claude-x',
    status,
    message,
    ...(extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
  };
}

function modelCooldownAfter(status: number, message?: string, policy?: CoolingPolicy): number {
  const { state } = markResult(undefined, fail(status, message), NOW, policy);
  return state.modelStates['claude-x']?.nextRetryAfter ?? -1;
}

describe('markResult status table', () => {
  it('blocks the model 30 minutes on 401 (unauthorized)', () => {
    const d = markResult(undefined, fail(401), NOW);
    expect(d.state.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 30 * MIN);
    expect(d.effect).toBe('suspend');
    expect(d.suspendReason).toBe('unauthorized');
  });

  it.each([402, 403])('blocks the model 30 minutes on %i (payment_required)', (status) => {
    const d = markResult(undefined, fail(status), NOW);
    expect(d.state.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 30 * MIN);
    expect(d.suspendReason).toBe('payment_required');
  });

  it('blocks the model 12 hours on 404 (not_found)', () => {
    const d = markResult(undefined, fail(404), NOW);
    expect(d.state.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 12 * HOUR);
    expect(d.suspendReason).toBe('not_found');
  });

  it.each([
    [400, 'The requested model is not supported'],
    [422, '{"error":{"code":"model_not_supported"}}'],
    [400, 'This model is not available for your plan'],
  ])('blocks the model 12 hours on %i saying the model is unsupported', (status, message) => {
    const d = markResult(undefined, fail(status, message), NOW);
    expect(d.state.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 12 * HOUR);
    expect(d.suspendReason).toBe('model_not_supported');
    expect(d.classification?.failover).toBe(true);
  });

  it.each([408, 500, 502, 503, 504])('cools the model 1 minute on transient %i', (status) => {
    const d = markResult(undefined, fail(status), NOW);
    expect(d.state.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + MIN);
    expect(d.effect).toBe('none');
  });

  it('uses the configured transient cooldown, and none when it is negative', () => {
    expect(modelCooldownAfter(503, 'x', resolveCoolingPolicy({ transientErrorCooldownSeconds: 5 }))).toBe(NOW + 5_000);
    expect(modelCooldownAfter(503, 'x', resolveCoolingPolicy({ transientErrorCooldownSeconds: -1 }))).toBe(0);
    expect(modelCooldownAfter(503, 'x', resolveCoolingPolicy({ transientErrorCooldownSeconds: 0 }))).toBe(NOW + MIN);
  });

  it('turns transient cooldowns off with disable-cooling, globally or per credential', () => {
    expect(modelCooldownAfter(500, 'x', resolveCoolingPolicy({ disableCooling: true }))).toBe(0);
    expect(modelCooldownAfter(500, 'x', resolveCoolingPolicy({}, { disableCooling: true }))).toBe(0);
    expect(
      modelCooldownAfter(500, 'x', resolveCoolingPolicy({ disableCooling: true }, { disableCooling: false })),
    ).toBe(NOW + MIN);
  });

  it('leaves other statuses unavailable without a cooldown', () => {
    const { state } = markResult(undefined, fail(418), NOW);
    expect(state.modelStates['claude-x']?.unavailable).toBe(true);
    expect(isBlockedForModel({ state }, 'claude-x', NOW).blocked).toBe(false);
  });

  it.each([
    [400, '{"error":{"type":"invalid_request_error","message":"bad"}}'],
    [422, 'unprocessable'],
  ])('leaves state untouched for request-shaped %i errors and does not fail over', (status, message) => {
    const before = newCredentialState(NOW);
    const d = markResult(before, fail(status, message), NOW + 5);
    expect(d.state).toBe(before);
    expect(d.classification?.kind).toBe('request-invalid');
    expect(d.classification?.failover).toBe(false);
  });

  it('records the error on the model and the credential', () => {
    const { state } = markResult(undefined, fail(401, 'bad key'), NOW);
    expect(state.modelStates['claude-x']?.lastError).toEqual({ message: 'bad key', status: 401 });
    expect(state.modelStates['claude-x']?.statusMessage).toBe('bad key');
    expect(state.status).toBe('error');
    expect(state.lastError?.message).toBe('bad key');
  });

  it('keys state by the base model so thinking-suffix variants share it', () => {
    const { state } = markResult(undefined, fail(429, 'q', { model: 'claude-x(16384)' }), NOW);
    expect(Object.keys(state.modelStates)).toEqual(['claude-x']);
    expect(isBlockedForModel({ state }, 'claude-x(high)', NOW).blocked).toBe(true);
  });

  it('does not touch the input state', () => {
    const before = newCredentialState(NOW);
    markResult(before, fail(401), NOW);
    expect(before).toEqual(newCredentialState(NOW));
  });
});

describe('markResult 429 handling', () => {
  it('uses the upstream Retry-After when given', () => {
    const { state } = markResult(undefined, fail(429, 'q', { retryAfterMs: 42_000 }), NOW);
    const ms = state.modelStates['claude-x'];
    expect(ms?.nextRetryAfter).toBe(NOW + 42_000);
    expect(ms?.quota).toEqual({ exceeded: true, reason: 'quota', nextRecoverAt: NOW + 42_000, backoffLevel: 0 });
    expect(isBlockedForModel({ state }, 'claude-x', NOW).reason).toBe('cooldown');
  });

  it('backs off exponentially 1s, 2s, 4s across expired windows', () => {
    let state: CredentialState | undefined;
    let t = NOW;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      state = markResult(state, fail(429), t).state;
      const next = state.modelStates['claude-x']?.nextRetryAfter ?? 0;
      waits.push(next - t);
      t = next; // next failure lands exactly when the window closed
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(state?.modelStates['claude-x']?.quota.backoffLevel).toBe(4);
  });

  it('escalates backoff only once per open window', () => {
    const first = markResult(undefined, fail(429), NOW).state;
    const second = markResult(first, fail(429), NOW + 100).state;
    expect(second.modelStates['claude-x']?.quota.backoffLevel).toBe(1);
    expect(second.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 1_000);
    const third = markResult(second, fail(429), NOW + 1_000).state;
    expect(third.modelStates['claude-x']?.quota.backoffLevel).toBe(2);
    expect(third.modelStates['claude-x']?.nextRetryAfter).toBe(NOW + 3_000);
  });

  it('caps the backoff at 30 minutes', () => {
    expect(nextQuotaBackoff(10, false)).toEqual({ cooldownMs: 1_024_000, level: 11 });
    expect(nextQuotaBackoff(11, false)).toEqual({ cooldownMs: 30 * MIN, level: 11 });
    expect(nextQuotaBackoff(40, false)).toEqual({ cooldownMs: 30 * MIN, level: 40 });
    expect(nextQuotaBackoff(-3, false)).toEqual({ cooldownMs: 1_000, level: 1 });
  });

  it('opens no window without a hint when cooling is disabled', () => {
    const { state } = markResult(undefined, fail(429), NOW, resolveCoolingPolicy({ disableCooling: true }));
    expect(state.modelStates['claude-x']?.nextRetryAfter).toBe(0);
    expect(isBlockedForModel({ state }, 'claude-x', NOW).blocked).toBe(false);
  });

  it('never shortens an open window with a shorter hint', () => {
    const open = { exceeded: true, reason: 'quota', nextRecoverAt: NOW + 10_000, backoffLevel: 2 };
    expect(quotaCooldown(open, 1_000, false, NOW).nextRecoverAt).toBe(NOW + 10_000);
    expect(quotaCooldown(open, 20_000, false, NOW).nextRecoverAt).toBe(NOW + 20_000);
    expect(quotaCooldown(emptyQuota(), 1_000, false, NOW).nextRecoverAt).toBe(NOW + 1_000);
  });
});

describe('markResult success', () => {
  it('clears the model state and the credential error', () => {
    const failed = markResult(undefined, fail(429), NOW).state;
    const d = markResult(failed, { success: true, model: 'claude-x(high)' }, NOW + 10);
    expect(d.effect).toBe('resume');
    expect(d.state.modelStates['claude-x']).toEqual({
      status: 'active',
      statusMessage: '',
      unavailable: false,
      nextRetryAfter: 0,
      quota: emptyQuota(),
      updatedAt: NOW + 10,
    });
    expect(d.state.status).toBe('active');
    expect(d.state.lastError).toBeUndefined();
    expect(d.state.quota.exceeded).toBe(false);
  });

  it('keeps the credential in error while another model is cooling', () => {
    let state = markResult(undefined, fail(401, 'x', { model: 'a' }), NOW).state;
    state = markResult(state, { success: true, model: 'b' }, NOW).state;
    expect(state.status).toBe('error');
    expect(isBlockedForModel({ state }, 'a', NOW).blocked).toBe(true);
  });
});

describe('markResult without a model (credential-wide)', () => {
  it('cools the credential on 401 and clears it on success', () => {
    const failed = markResult(undefined, { success: false, status: 401, message: 'x' }, NOW).state;
    expect(failed.statusMessage).toBe('unauthorized');
    expect(failed.nextRetryAfter).toBe(NOW + 30 * MIN);
    expect(isBlockedForModel({ state: failed }, 'any', NOW).blocked).toBe(true);
    const ok = markResult(failed, { success: true }, NOW + 1).state;
    expect(ok.unavailable).toBe(false);
    expect(ok.status).toBe('active');
  });

  it('escalates the credential quota once per window', () => {
    const a = markResult(undefined, { success: false, status: 429 }, NOW).state;
    const b = markResult(a, { success: false, status: 429 }, NOW + 100).state;
    expect(b.quota.backoffLevel).toBe(1);
    const c = markResult(b, { success: false, status: 429 }, NOW + 2_000).state;
    expect(c.quota).toEqual({ exceeded: true, reason: 'quota', nextRecoverAt: NOW + 4_000, backoffLevel: 2 });
    expect(c.statusMessage).toBe('quota exhausted');
  });
});

describe('classifyFailure', () => {
  it('fails over on everything except request-shaped errors', () => {
    for (const status of [401, 402, 403, 404, 408, 429, 500, 502, 503, 504, 0, 418]) {
      expect(classifyFailure(status, 'x').failover).toBe(true);
    }
    expect(classifyFailure(400, 'invalid_request_error').failover).toBe(false);
    expect(classifyFailure(422, 'x').failover).toBe(false);
    expect(classifyFailure(400, 'plain bad request').failover).toBe(true);
  });

  it('treats model-support phrases as retryable even on 422', () => {
    expect(isRequestInvalidError(422, 'model not supported')).toBe(false);
    expect(classifyFailure(422, 'Unsupported model').kind).toBe('model-unsupported');
    expect(isModelUnsupportedMessage('  ')).toBe(false);
  });

  it('describes the quota rule for 429', () => {
    expect(classifyFailure(429, '')).toMatchObject({ kind: 'quota', cooldown: { type: 'quota' } });
  });
});

describe('retry hints', () => {
  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfterHeader('30', NOW)).toBe(30_000);
    expect(parseRetryAfterHeader(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfterHeader(new Date(NOW - 1_000).toUTCString(), NOW)).toBeUndefined();
    expect(parseRetryAfterHeader('0', NOW)).toBeUndefined();
    expect(parseRetryAfterHeader('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterHeader(undefined, NOW)).toBeUndefined();
  });

  it("parses Google's RetryInfo retryDelay", () => {
    const body = JSON.stringify({
      error: {
        code: 429,
        details: [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', metadata: { quotaResetDelay: '5s' } },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' },
        ],
      },
    });
    expect(parseGoogleRetryDelay(body)).toBe(1_500);
  });

  it('falls back to ErrorInfo quotaResetDelay, then the message', () => {
    expect(
      parseGoogleRetryDelay({
        error: {
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', metadata: { quotaResetDelay: '2m' } }],
        },
      }),
    ).toBe(120_000);
    expect(parseGoogleRetryDelay({ error: { message: 'Quota exceeded, retry after 17s.' } })).toBe(17_000);
    expect(parseGoogleRetryDelay({ error: { message: 'Resets after 1h2m.' } })).toBe(3_720_000);
    expect(parseGoogleRetryDelay('not json')).toBeUndefined();
    expect(parseGoogleRetryDelay({ error: { message: 'nothing' } })).toBeUndefined();
  });

  it('prefers the header over the body', () => {
    const body = JSON.stringify({
      error: { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '9s' }] },
    });
    expect(retryHintMs({ 'Retry-After': '3' }, body, NOW)).toBe(3_000);
    expect(retryHintMs({}, body, NOW)).toBe(9_000);
  });
});

describe('coolingSettingsOf', () => {
  it("turns the router's transient cooldown in ms into Go's whole seconds", () => {
    expect(coolingSettingsOf({ disableCooling: false, transientCooldownMs: 60_000 })).toEqual({
      disableCooling: false,
      transientErrorCooldownSeconds: 60,
    });
    expect(coolingSettingsOf({ disableCooling: true, transientCooldownMs: 1_500 })).toEqual({
      disableCooling: true,
      transientErrorCooldownSeconds: 2,
    });
    expect(coolingSettingsOf({ disableCooling: false, transientCooldownMs: 1_400 }).transientErrorCooldownSeconds).toBe(
      1,
    );
  });

  it('keeps 0 as the default and any negative value as disabled', () => {
    expect(
      resolveCoolingPolicy(coolingSettingsOf({ disableCooling: false, transientCooldownMs: 0 })).transientCooldownMs,
    ).toBe(60_000);
    expect(
      coolingSettingsOf({ disableCooling: false, transientCooldownMs: -1_000 }).transientErrorCooldownSeconds,
    ).toBe(-1);
    expect(
      resolveCoolingPolicy(coolingSettingsOf({ disableCooling: false, transientCooldownMs: -1 })).transientCooldownMs,
    ).toBe(0);
  });
});
