import { describe, expect, it } from 'vitest';
import { Patterns } from '@cpa/contracts';
import { markResult, resolveCoolingPolicy } from '@cpa/routing';
import { forward, frame } from '@cpa/transport';
import { afterFailure, startedCooldown } from './dispatch-metrics';

describe('afterFailure', () => {
  const attemptOn = (credentialId: string) => forward(Patterns.execute('claude'), { credentialId, attempt: 1 });

  it('tells a failover from a retry on the same credential', () => {
    expect(afterFailure(attemptOn('b'), 'a')).toBe('failover');
    expect(afterFailure(attemptOn('a'), 'a')).toBe('same_credential');
  });

  it('counts a parked request as a next round, and a final answer as nothing', () => {
    expect(afterFailure(forward(Patterns.nextRound, {}, undefined, { delayMs: 500 }), 'a')).toBe('next_round');
    expect(afterFailure(frame({ status: 429, headers: {}, complete: true }, Buffer.from('{}')), 'a')).toBeUndefined();
  });
});

describe('startedCooldown', () => {
  const now = 1_000_000;
  const fail = (status: number, message = 'upstream error', retryAfterMs?: number) =>
    markResult(
      undefined,
      { success: false, model: 'm', status, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      now,
    );

  it('names the failure kind of each cooling failure', () => {
    expect(startedCooldown(fail(429, 'rate limited', 60_000), now)).toBe('quota');
    expect(startedCooldown(fail(401), now)).toBe('unauthorized');
    expect(startedCooldown(fail(403), now)).toBe('payment-required');
    expect(startedCooldown(fail(404), now)).toBe('not-found');
    expect(startedCooldown(fail(503), now)).toBe('transient');
  });

  it('finds none for a success, a request-shaped error or disabled cooling', () => {
    expect(startedCooldown(markResult(undefined, { success: true, model: 'm' }, now), now)).toBeUndefined();
    expect(startedCooldown(fail(400, '{"error":{"type":"invalid_request_error"}}'), now)).toBeUndefined();
    const noTransient = resolveCoolingPolicy({ transientErrorCooldownSeconds: -1 });
    expect(
      startedCooldown(
        markResult(undefined, { success: false, model: 'm', status: 503, message: 'x' }, now, noTransient),
        now,
      ),
    ).toBeUndefined();
  });

  it('covers a failure without a model, which cools the whole credential', () => {
    expect(startedCooldown(markResult(undefined, { success: false, status: 401, message: 'x' }, now), now)).toBe(
      'unauthorized',
    );
  });
});
