/**
 * Retry decisions of one client request (Go's Execute / executeMixedOnce /
 * shouldRetryAfterError). A request runs in rounds: within a round distinct credentials
 * are tried up to max-retry-credentials; between rounds the scheduler may wait for the
 * nearest cooldown.
 */
import { isRequestInvalidError } from './mark-result';
import type { BlockResult } from './model-state';

export interface RetryConfig {
  /** request-retry: extra rounds after the first (Go default 3). */
  requestRetry: number;
  /** max-retry-credentials: distinct credentials per round; 0 = all. */
  maxRetryCredentials: number;
  /** max-retry-interval: longest wait for a cooldown before another round; 0 disables rounds. */
  maxRetryIntervalMs: number;
}

export const DEFAULT_RETRY_CONFIG: RetryConfig = {
  requestRetry: 3,
  maxRetryCredentials: 0,
  maxRetryIntervalMs: 30_000,
};

/** A failed attempt, as far as retrying cares. */
export interface AttemptFailureView {
  status: number;
  /** Request-shaped (invalid request / 422): returned to the client as is, never retried. */
  requestInvalid: boolean;
}

/**
 * A failed attempt (status, upstream body, and whether it failed without an HTTP answer) as
 * retrying sees it: a network error or empty stream is never request-shaped.
 */
export function attemptFailureView(failure: { status: number; body: string; network?: boolean }): AttemptFailureView {
  return {
    status: failure.status,
    requestInvalid: !failure.network && isRequestInvalidError(failure.status, failure.body),
  };
}

export type WithinRoundAction =
  /** Pick another credential now (a failed pick ends the round). */
  | { action: 'try-another' }
  /** The round is over: decide with nextRound(). */
  | { action: 'end-round' }
  /** Stop and return this failure to the client unchanged. */
  | { action: 'give-up'; reason: 'request-invalid' };

/**
 * After an attempt failed in the current round. `attemptedInRound` counts the distinct
 * credentials actually attempted in this round, including the one that just failed.
 */
export function afterAttemptFailure(
  config: RetryConfig,
  attemptedInRound: number,
  failure: AttemptFailureView,
): WithinRoundAction {
  if (failure.requestInvalid) return { action: 'give-up', reason: 'request-invalid' };
  if (config.maxRetryCredentials > 0 && attemptedInRound >= config.maxRetryCredentials) return { action: 'end-round' };
  return { action: 'try-another' };
}

/** A credential of the eligible providers, for finding the nearest cooldown. */
export interface CooldownView {
  /** Per-credential request-retry override. */
  requestRetry?: number;
  block: BlockResult;
}

/**
 * Go's closestCooldownWait: the shortest remaining cooldown among blocked (not disabled)
 * credentials whose request-retry budget exceeds the finished round's index.
 */
export function closestCooldownWait(
  config: RetryConfig,
  round: number,
  credentials: readonly CooldownView[],
  now: number,
): number | undefined {
  const defaultRetry = Math.max(0, config.requestRetry);
  let min: number | undefined;
  for (const c of credentials) {
    const budget = Math.max(0, c.requestRetry ?? defaultRetry);
    if (round >= budget) continue;
    const { blocked, reason, next } = c.block;
    if (!blocked || next === 0 || reason === 'disabled') continue;
    const wait = next - now;
    if (wait < 0) continue;
    if (min === undefined || wait < min) min = wait;
  }
  return min;
}

export type RoundAction =
  | { action: 'wait'; waitMs: number; nextRound: number }
  | { action: 'give-up'; reason: 'request-invalid' | 'retry-disabled' | 'no-cooldown-within-interval' };

/**
 * Go's shouldRetryAfterError once a round (index `round`, 0-based) is exhausted: wait for
 * the nearest cooldown and start the next round when it is within max-retry-interval.
 * `lastFailure` is the round's last upstream failure (undefined when the round ended on a
 * failed pick, e.g. every credential cooling).
 */
export function nextRound(
  config: RetryConfig,
  round: number,
  lastFailure: AttemptFailureView | undefined,
  credentials: readonly CooldownView[],
  now: number,
): RoundAction {
  if (config.maxRetryIntervalMs <= 0) return { action: 'give-up', reason: 'retry-disabled' };
  if (lastFailure?.requestInvalid) return { action: 'give-up', reason: 'request-invalid' };
  const wait = closestCooldownWait(config, round, credentials, now);
  if (wait === undefined || wait > config.maxRetryIntervalMs)
    return { action: 'give-up', reason: 'no-cooldown-within-interval' };
  return { action: 'wait', waitMs: wait, nextRound: round + 1 };
}

/**
 * The error the client finally gets: the last upstream failure when there was one (Go's
 * lastErr), else the pick error that ended the request.
 */
export function finalFailure<F, P>(
  lastFailure: F | undefined,
  pickError: P,
): { source: 'upstream'; failure: F } | { source: 'pick'; error: P } {
  return lastFailure !== undefined
    ? { source: 'upstream', failure: lastFailure }
    : { source: 'pick', error: pickError };
}

/** Streaming attempt as seen by the scheduler when it ends or fails. */
export interface StreamAttemptView {
  /** Payload bytes already forwarded to the client. */
  payloadBytesSent: number;
  /** The upstream stream ended (cleanly). */
  ended: boolean;
  /** The upstream failed with this status (0: network error). */
  errorStatus?: number;
}

export type StreamVerdict =
  /** Nothing reached the client: fail over like a non-streamed failure. */
  | { kind: 'retry-before-first-byte'; failure: 'upstream-error' | 'empty-stream' }
  /** Bytes already went out: deliver the error inside the stream and record a failure. */
  | { kind: 'error-in-stream' }
  | { kind: 'success' };

export const EMPTY_STREAM_ERROR = {
  code: 'empty_stream',
  message: 'upstream stream closed before first payload',
} as const;

/**
 * Retry only before the first payload byte; an upstream stream that closes before any
 * payload counts as a retryable failure ("empty stream").
 */
export function streamVerdict(view: StreamAttemptView): StreamVerdict {
  const beforeFirstByte = view.payloadBytesSent <= 0;
  if (view.errorStatus !== undefined) {
    return beforeFirstByte
      ? { kind: 'retry-before-first-byte', failure: 'upstream-error' }
      : { kind: 'error-in-stream' };
  }
  if (view.ended && beforeFirstByte) return { kind: 'retry-before-first-byte', failure: 'empty-stream' };
  return { kind: 'success' };
}
