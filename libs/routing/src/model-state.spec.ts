import { describe, expect, it } from 'vitest';
import {
  hasModelError,
  isBlockedForModel,
  isStateChange,
  newCredentialState,
  newModelState,
  resetCooldowns,
  updateAggregatedAvailability,
  type CredentialState,
  type ModelState,
} from './model-state';
import { markResult } from './mark-result';

const NOW = 1_700_000_000_000;

function cooling(until: number, quota = false): ModelState {
  return {
    ...newModelState(NOW),
    status: 'error',
    unavailable: true,
    nextRetryAfter: until,
    quota: quota ? { exceeded: true, reason: 'quota', nextRecoverAt: until, backoffLevel: 1 } : newModelState().quota,
  };
}

function withModels(models: Record<string, ModelState>): CredentialState {
  return { ...newCredentialState(NOW), modelStates: models };
}

describe('isBlockedForModel', () => {
  it('does not block a credential without state', () => {
    expect(isBlockedForModel({}, 'm', NOW)).toEqual({ blocked: false, reason: 'none', next: 0 });
  });

  it('blocks a disabled credential before looking at any state', () => {
    expect(isBlockedForModel({ disabled: true, state: withModels({}) }, 'm', NOW).reason).toBe('disabled');
    expect(isBlockedForModel({ state: { ...newCredentialState(), status: 'disabled' } }, 'm', NOW).reason).toBe(
      'disabled',
    );
  });

  it('blocks a disabled model state', () => {
    const state = withModels({ m: { ...newModelState(), status: 'disabled' } });
    expect(isBlockedForModel({ state }, 'm', NOW)).toEqual({ blocked: true, reason: 'disabled', next: 0 });
  });

  it('reports a quota window as cooldown with its end', () => {
    const state = withModels({ m: cooling(NOW + 5_000, true) });
    expect(isBlockedForModel({ state }, 'm', NOW)).toEqual({ blocked: true, reason: 'cooldown', next: NOW + 5_000 });
  });

  it('reports other timed blocks as other', () => {
    const state = withModels({ m: cooling(NOW + 60_000) });
    expect(isBlockedForModel({ state }, 'm', NOW)).toEqual({ blocked: true, reason: 'other', next: NOW + 60_000 });
  });

  it('takes the later quota recovery as the end of the block', () => {
    const ms = cooling(NOW + 1_000, true);
    ms.quota.nextRecoverAt = NOW + 9_000;
    expect(isBlockedForModel({ state: withModels({ m: ms }) }, 'm', NOW).next).toBe(NOW + 9_000);
  });

  it('recovers an expired cooldown by itself', () => {
    const state = withModels({ m: cooling(NOW - 1, true) });
    expect(isBlockedForModel({ state }, 'm', NOW).blocked).toBe(false);
  });

  it('does not block an unavailable state without a retry time', () => {
    const state = withModels({ m: { ...cooling(0), nextRetryAfter: 0 } });
    expect(isBlockedForModel({ state }, 'm', NOW).blocked).toBe(false);
  });

  it('shares the base model state with thinking-suffix variants', () => {
    const state = withModels({ 'claude-sonnet-4-5': cooling(NOW + 1_000, true) });
    expect(isBlockedForModel({ state }, 'claude-sonnet-4-5(16384)', NOW).blocked).toBe(true);
  });

  it('prefers the exact model state over the base model state', () => {
    const state = withModels({ 'm(high)': newModelState(), m: cooling(NOW + 1_000, true) });
    expect(isBlockedForModel({ state }, 'm(high)', NOW).blocked).toBe(false);
  });

  it('leaves other models of a credential available', () => {
    const state = withModels({ a: cooling(NOW + 1_000, true) });
    expect(isBlockedForModel({ state }, 'b', NOW).blocked).toBe(false);
  });

  it('uses the credential-wide state when there are no model states', () => {
    const state: CredentialState = { ...newCredentialState(), unavailable: true, nextRetryAfter: NOW + 2_000 };
    expect(isBlockedForModel({ state }, 'm', NOW)).toEqual({ blocked: true, reason: 'other', next: NOW + 2_000 });
    expect(isBlockedForModel({ state }, '', NOW).blocked).toBe(true);
    expect(isBlockedForModel({ state }, 'm', NOW + 2_000).blocked).toBe(false);
  });
});

describe('updateAggregatedAvailability', () => {
  it('marks the credential unavailable only when every model is', () => {
    const one = updateAggregatedAvailability(withModels({ a: cooling(NOW + 5_000), b: newModelState() }), NOW);
    expect(one.unavailable).toBe(false);
    expect(one.nextRetryAfter).toBe(0);
    const all = updateAggregatedAvailability(withModels({ a: cooling(NOW + 5_000), b: cooling(NOW + 3_000) }), NOW);
    expect(all.unavailable).toBe(true);
    expect(all.nextRetryAfter).toBe(NOW + 3_000);
  });

  it('counts a disabled model as unavailable', () => {
    const agg = updateAggregatedAvailability(withModels({ a: { ...newModelState(), status: 'disabled' } }), NOW);
    expect(agg.unavailable).toBe(true);
    expect(agg.nextRetryAfter).toBe(0);
  });

  it('mirrors model quotas: earliest recovery, highest backoff level', () => {
    const a = cooling(NOW + 8_000, true);
    a.quota.backoffLevel = 3;
    const b = cooling(NOW + 4_000, true);
    const agg = updateAggregatedAvailability(withModels({ a, b }), NOW);
    expect(agg.quota).toEqual({ exceeded: true, reason: 'quota', nextRecoverAt: NOW + 4_000, backoffLevel: 3 });
  });

  it('clears expired model cooldowns and the credential quota', () => {
    const input = withModels({ a: cooling(NOW - 1) });
    const agg = updateAggregatedAvailability(input, NOW);
    expect(agg.modelStates['a']?.unavailable).toBe(false);
    expect(agg.modelStates['a']?.nextRetryAfter).toBe(0);
    expect(agg.unavailable).toBe(false);
    expect(agg.quota.exceeded).toBe(false);
    expect(input.modelStates['a']?.unavailable).toBe(true);
  });

  it('leaves a credential without model states unchanged', () => {
    const state = { ...newCredentialState(), unavailable: true };
    expect(updateAggregatedAvailability(state, NOW)).toBe(state);
  });
});

describe('hasModelError', () => {
  it('sees a recorded error or an open cooldown', () => {
    expect(hasModelError(withModels({ a: { ...newModelState(), lastError: { message: 'x' } } }), NOW)).toBe(true);
    expect(hasModelError(withModels({ a: cooling(NOW + 1) }), NOW)).toBe(true);
    expect(hasModelError(withModels({ a: cooling(NOW - 1) }), NOW)).toBe(false);
    expect(hasModelError(withModels({ a: newModelState() }), NOW)).toBe(false);
  });
});

describe('resetCooldowns (reset-quota)', () => {
  it('makes the credential and all its models available again', () => {
    const state = updateAggregatedAvailability(
      withModels({ a: cooling(NOW + 9_000, true), b: cooling(NOW + 9_000) }),
      NOW,
    );
    const reset = resetCooldowns(state, NOW);
    expect(reset.unavailable).toBe(false);
    expect(reset.quota.exceeded).toBe(false);
    expect(isBlockedForModel({ state: reset }, 'a', NOW).blocked).toBe(false);
    expect(reset.modelStates['a']?.quota.backoffLevel).toBe(0);
  });
});

describe('isStateChange', () => {
  it('ignores a transition that only moves updatedAt, also against a credential without state', () => {
    const cooled = markResult(undefined, { success: false, model: 'm', status: 429 }, 1_000).state;
    const touched = { ...cooled, updatedAt: 9_000, modelStates: { m: { ...cooled.modelStates.m!, updatedAt: 9_000 } } };
    expect(isStateChange(cooled, touched)).toBe(false);
    expect(isStateChange(undefined, newCredentialState(5_000))).toBe(false);
  });

  it('sees a cooldown starting or ending', () => {
    const cooled = markResult(undefined, { success: false, model: 'm', status: 429 }, 1_000).state;
    expect(isStateChange(undefined, cooled)).toBe(true);
    expect(isStateChange(cooled, resetCooldowns(cooled, 2_000))).toBe(true);
  });
});
