import { Patterns, type ExecuteRequest } from '@cpa/contracts';
import type { FailureKind, MarkResultDecision } from '@cpa/routing';
import { isForward, type Forward, type Frame } from '@cpa/transport';

/**
 * What the scheduler did after a failed attempt, as the metrics count it: another
 * credential (failover), the same credential again in a new round (same_credential), a
 * wait for the nearest cooldown (next_round), or nothing more (a final answer: undefined).
 */
export type AfterFailure = 'failover' | 'same_credential' | 'next_round';

export function afterFailure(next: Forward | Frame, failedCredentialId: string): AfterFailure | undefined {
  if (!isForward(next)) return undefined;
  if (next.pattern === Patterns.nextRound) return 'next_round';
  const attempt = next.data as Partial<ExecuteRequest> | undefined;
  if (attempt?.credentialId === undefined) return undefined;
  return attempt.credentialId === failedCredentialId ? 'same_credential' : 'failover';
}

/**
 * The failure kind whose cooldown a MarkResult transition started: the failure cools, and
 * the resulting state keeps the model (or, for a failure without a model, the whole
 * credential) out of picks past `now`. Disabled cooling or a zero cooldown starts none.
 */
export function startedCooldown(decision: MarkResultDecision, now: number): FailureKind | undefined {
  const classification = decision.classification;
  if (!classification || classification.cooldown.type === 'none') return undefined;
  const until =
    decision.model !== undefined
      ? decision.state.modelStates[decision.model]?.nextRetryAfter
      : decision.state.nextRetryAfter;
  return until !== undefined && until > now ? classification.kind : undefined;
}
