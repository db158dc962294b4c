import { describe, expect, it } from 'vitest';
import { classifyFailure, markResult } from './mark-result';
import { isBlockedForModel, newCredentialState } from './model-state';
import {
  afterAttemptFailure,
  attemptFailureView,
  closestCooldownWait,
  DEFAULT_RETRY_CONFIG,
  finalFailure,
  nextRound,
  streamVerdict,
  type AttemptFailureView,
  type CooldownView,
  type RetryConfig,
} from './retry-plan';

const NOW = 1_700_000_000_000;
const cfg = (over: Partial<RetryConfig> = {}): RetryConfig => ({ ...DEFAULT_RETRY_CONFIG, ...over });
const upstream = (status: number, message = 'x'): AttemptFailureView => ({
  status,
  requestInvalid: classifyFailure(status, message).kind === 'request-invalid',
});

function coolingFor(ms: number, requestRetry?: number): CooldownView {
  const state = markResult(
    newCredentialState(NOW),
    { success: false, model: 'm', status: 429, retryAfterMs: ms },
    NOW,
  ).state;
  return { ...(requestRetry !== undefined ? { requestRetry } : {}), block: isBlockedForModel({ state }, 'm', NOW) };
}

describe('within a round', () => {
  it('tries another credential after a retryable failure', () => {
    expect(afterAttemptFailure(cfg(), 1, upstream(429))).toEqual({ action: 'try-another' });
    expect(afterAttemptFailure(cfg(), 5, upstream(500))).toEqual({ action: 'try-another' });
  });

  it('caps distinct credentials per round with max-retry-credentials', () => {
    expect(afterAttemptFailure(cfg({ maxRetryCredentials: 2 }), 1, upstream(500))).toEqual({ action: 'try-another' });
    expect(afterAttemptFailure(cfg({ maxRetryCredentials: 2 }), 2, upstream(500))).toEqual({ action: 'end-round' });
  });

  it('gives up at once on a request-shaped error', () => {
    expect(afterAttemptFailure(cfg(), 1, upstream(400, '{"error":{"type":"invalid_request_error"}}'))).toEqual({
      action: 'give-up',
      reason: 'request-invalid',
    });
    expect(afterAttemptFailure(cfg(), 1, upstream(422))).toEqual({ action: 'give-up', reason: 'request-invalid' });
  });
});

describe('between rounds', () => {
  it('waits for the nearest cooldown within max-retry-interval and starts the next round', () => {
    const creds = [
      coolingFor(20_000),
      coolingFor(5_000),
      { block: { blocked: false, reason: 'none' as const, next: 0 } },
    ];
    expect(nextRound(cfg(), 0, upstream(429), creds, NOW)).toEqual({ action: 'wait', waitMs: 5_000, nextRound: 1 });
  });

  it('gives up when the nearest cooldown is longer than max-retry-interval', () => {
    expect(nextRound(cfg({ maxRetryIntervalMs: 4_000 }), 0, upstream(429), [coolingFor(5_000)], NOW)).toEqual({
      action: 'give-up',
      reason: 'no-cooldown-within-interval',
    });
  });

  it('stops after request-retry rounds', () => {
    const creds = [coolingFor(1_000)];
    const config = cfg({ requestRetry: 2 });
    expect(nextRound(config, 0, upstream(429), creds, NOW).action).toBe('wait');
    expect(nextRound(config, 1, upstream(429), creds, NOW).action).toBe('wait');
    expect(nextRound(config, 2, upstream(429), creds, NOW)).toEqual({
      action: 'give-up',
      reason: 'no-cooldown-within-interval',
    });
  });

  it('honours a per-credential request-retry override', () => {
    expect(closestCooldownWait(cfg({ requestRetry: 3 }), 1, [coolingFor(1_000, 1), coolingFor(9_000)], NOW)).toBe(
      9_000,
    );
    expect(closestCooldownWait(cfg({ requestRetry: 0 }), 0, [coolingFor(1_000, 2)], NOW)).toBe(1_000);
  });

  it('ignores disabled, unblocked and open-ended blocks', () => {
    const views: CooldownView[] = [
      { block: { blocked: true, reason: 'disabled', next: NOW + 10 } },
      { block: { blocked: true, reason: 'other', next: 0 } },
      { block: { blocked: false, reason: 'none', next: 0 } },
    ];
    expect(closestCooldownWait(cfg(), 0, views, NOW)).toBeUndefined();
  });

  it('does not retry rounds when max-retry-interval is 0 or the error is request-shaped', () => {
    expect(nextRound(cfg({ maxRetryIntervalMs: 0 }), 0, upstream(429), [coolingFor(1)], NOW)).toEqual({
      action: 'give-up',
      reason: 'retry-disabled',
    });
    expect(nextRound(cfg(), 0, upstream(422), [coolingFor(1)], NOW)).toEqual({
      action: 'give-up',
      reason: 'request-invalid',
    });
  });

  it('waits after a round that ended on a cooldown pick error', () => {
    expect(nextRound(cfg(), 0, undefined, [coolingFor(2_000)], NOW)).toEqual({
      action: 'wait',
      waitMs: 2_000,
      nextRound: 1,
    });
  });

  it('returns the last upstream failure, else the pick error', () => {
    expect(finalFailure(upstream(500), 'cooldown')).toEqual({ source: 'upstream', failure: upstream(500) });
    expect(finalFailure(undefined, 'cooldown')).toEqual({ source: 'pick', error: 'cooldown' });
  });
});

describe('streaming', () => {
  it('retries a stream that failed before the first byte (stream bootstrap retry)', () => {
    expect(streamVerdict({ payloadBytesSent: 0, ended: false, errorStatus: 429 })).toEqual({
      kind: 'retry-before-first-byte',
      failure: 'upstream-error',
    });
  });

  it('treats an empty stream as a retryable failure', () => {
    expect(streamVerdict({ payloadBytesSent: 0, ended: true })).toEqual({
      kind: 'retry-before-first-byte',
      failure: 'empty-stream',
    });
  });

  it('delivers errors after the first byte inside the stream', () => {
    expect(streamVerdict({ payloadBytesSent: 10, ended: false, errorStatus: 500 })).toEqual({
      kind: 'error-in-stream',
    });
  });

  it('accepts a stream that delivered payload and ended', () => {
    expect(streamVerdict({ payloadBytesSent: 10, ended: true })).toEqual({ kind: 'success' });
  });
});

describe('attemptFailureView', () => {
  const invalid = JSON.stringify({
    type: 'error',
    error: { type: 'invalid_request_error', message: 'max_tokens: field required' },
  });

  it('marks request-shaped upstream answers, which no other credential can fix', () => {
    expect(attemptFailureView({ status: 400, body: invalid })).toEqual({ status: 400, requestInvalid: true });
    expect(attemptFailureView({ status: 422, body: '' })).toEqual({ status: 422, requestInvalid: true });
    expect(attemptFailureView({ status: 429, body: invalid })).toEqual({ status: 429, requestInvalid: false });
  });

  it('never marks a failure without an HTTP answer (network error, empty stream)', () => {
    expect(attemptFailureView({ status: 422, body: invalid, network: true })).toEqual({
      status: 422,
      requestInvalid: false,
    });
  });
});
