import type { AttemptFailure, ExecuteRequest, RouteRequest } from '@cpa/contracts';
import type { UpstreamModel } from '@cpa/routing';
import type { RoutedCredential } from './route-scope';

/**
 * The ExecuteRequest the scheduler sends: the contract's fields plus the retry round it
 * belongs to. Executors hand the object back unchanged in AttemptFailure.execute.
 */
export interface ScheduledAttempt extends ExecuteRequest {
  /** Retry round (0-based). */
  round: number;
  /** Credentials attempted in this round (excluded from its further picks). */
  roundTried: string[];
  /**
   * Alias pool members still to try on this credential after `upstreamModel`, in order
   * (absent when the model is not pooled or no member is left): a failure before the first
   * byte moves to the next of them before another credential is picked.
   */
  poolRemaining?: string[];
}

/**
 * A request parked until the nearest cooldown ends (Patterns.nextRound, a delayed forward
 * to the scheduler queue): everything the next round needs, so any scheduler can take it
 * up and no handler holds a slot while it waits.
 */
export interface NextRound {
  route: RouteRequest;
  /** Attempts so far, the round about to start, and every credential tried. */
  attempt: number;
  round: number;
  tried: string[];
  /** The last upstream failure, the answer when the next round finds nothing either. */
  lastFailure?: AttemptFailure;
}

/** Where a request stands in its retry loop (Go's executeMixedOnce counters), carried by its messages. */
export interface RetryPosition {
  /** Attempts sent so far. */
  attempt: number;
  round: number;
  /** Credentials attempted in this round. */
  roundTried: string[];
  /** Every credential attempted. */
  tried: string[];
}

/** What a pick chose: the credential, the upstream model to try first and the pool members after it. */
export interface PickedAttempt {
  credential: RoutedCredential;
  upstream: UpstreamModel;
  /** Further alias pool members to try on this credential, in order (usually none). */
  pool: UpstreamModel[];
}

/** A new request: no attempt yet, first round. */
export function firstPosition(): RetryPosition {
  return { attempt: 0, round: 0, roundTried: [], tried: [] };
}

/** The attempt sent to the executor of the picked credential's family. */
export function scheduledAttempt(
  route: RouteRequest,
  picked: PickedAttempt,
  position: RetryPosition,
): ScheduledAttempt {
  const id = picked.credential.id;
  return {
    route,
    credentialId: id,
    family: picked.credential.info.provider,
    upstreamModel: picked.upstream.upstreamModel,
    baseModel: picked.upstream.stateModel,
    attempt: position.attempt,
    triedCredentialIds: [...position.tried, id],
    round: position.round,
    roundTried: [...position.roundTried, id],
    ...(picked.pool.length > 0 ? { poolRemaining: picked.pool.map((u) => u.upstreamModel) } : {}),
  };
}

/**
 * The attempt a failure came back with. Executors hand it back as they got it; an attempt
 * of a scheduler that predates rounds has no `round`, `roundTried` or `poolRemaining`.
 */
export type ReturnedAttempt = Partial<ScheduledAttempt> & ExecuteRequest;

/** After a failed attempt, the next one goes to another credential (it counts in the round). */
export function positionAfterFailure(failed: ReturnedAttempt): RetryPosition {
  return {
    attempt: failed.attempt + 1,
    round: failed.round ?? 0,
    roundTried: failed.roundTried ?? failed.triedCredentialIds,
    tried: failed.triedCredentialIds,
  };
}

/**
 * After a failed attempt, the next alias pool member on the same credential: the credential
 * stays where it is in the tried lists and the round's count (scheduledAttempt adds it back).
 */
export function positionInPool(failed: ReturnedAttempt): RetryPosition {
  const others = (ids: readonly string[]) => ids.filter((id) => id !== failed.credentialId);
  const after = positionAfterFailure(failed);
  return { ...after, roundTried: others(after.roundTried), tried: others(after.tried) };
}

/** Pool member names the failed attempt still had; anything but a list of strings is none. */
export function poolRemainingOf(failed: ReturnedAttempt): string[] {
  return Array.isArray(failed.poolRemaining)
    ? failed.poolRemaining.filter((name): name is string => typeof name === 'string')
    : [];
}

/** The request parked for round `round` at `position`, with the failure that ended the previous one. */
export function parkedRound(
  route: RouteRequest,
  position: RetryPosition,
  round: number,
  lastFailure: AttemptFailure | undefined,
): NextRound {
  return { route, attempt: position.attempt, round, tried: position.tried, ...(lastFailure ? { lastFailure } : {}) };
}

/** A parked request taken up again: a new round with nothing tried in it yet. */
export function positionOfNextRound(next: NextRound): RetryPosition {
  return { attempt: next.attempt, round: next.round, roundTried: [], tried: next.tried };
}
