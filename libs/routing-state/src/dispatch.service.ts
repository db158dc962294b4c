import { Injectable } from '@nestjs/common';
import { Catalog, type CatalogSnapshot } from '@cpa/catalog';
import {
  Patterns,
  type AttemptFailure,
  type AttemptResult,
  type ExecuteRequest,
  type ResponseHead,
  type RouteRequest,
} from '@cpa/contracts';
import {
  affinityAfterResult,
  afterAttemptFailure,
  attemptFailureView,
  candidateBlock,
  finalFailure,
  modelNotServedError,
  nextRound,
  pickErrorResponse,
  remainingPoolModels,
  resetCooldowns,
  upstreamFailureResponse,
  type CooldownView,
  type CredentialState,
  type ErrorResponse,
  type PickError,
  type UpstreamModel,
} from '@cpa/routing';
import { metrics, secondsSince } from '@cpa/runtime/metrics';
import { forward, frame, type Forward, type Frame } from '@cpa/transport';
import { AttemptRecorder } from './attempt-recorder';
import { CredentialPicker, type PickResult } from './credential-picker';
import { afterFailure } from './dispatch-metrics';
import { RouteScopes, type RouteScope, type RoutedCredential } from './route-scope';
import { RoutingStateStore } from './routing-state.store';
import {
  firstPosition,
  parkedRound,
  poolRemainingOf,
  positionAfterFailure,
  positionInPool,
  positionOfNextRound,
  scheduledAttempt,
  type NextRound,
  type PickedAttempt,
  type RetryPosition,
  type ReturnedAttempt,
} from './scheduled-attempt';

/** A final reply: one frame with head and the whole body. */
export function replyFrame(response: ErrorResponse): Frame {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) headers[name.toLowerCase()] = value;
  const head: ResponseHead = { status: response.status, headers, complete: true };
  return frame(head, Buffer.from(response.body));
}

/**
 * The scheduler's decisions on the request path (Go's Manager.Execute split over messages):
 * pick a credential for a routed request; on a failed attempt record it, then try another
 * credential, wait for the nearest cooldown and start another round, or answer with the
 * final error. All shared state is in Redis (RoutingStateStore); rules are @cpa/routing's.
 * The pick is CredentialPicker's, the state transitions AttemptRecorder's, and the retry
 * position travels in the messages (scheduled-attempt.ts).
 */
@Injectable()
export class DispatchService {
  private readonly scopes = new RouteScopes();
  private enabledIds?: Set<string>;
  private readonly picker: CredentialPicker;
  private readonly recorder: AttemptRecorder;

  constructor(
    private readonly catalog: Catalog,
    private readonly store: RoutingStateStore,
  ) {
    const clock = () => this.now();
    this.picker = new CredentialPicker(catalog, store, clock);
    this.recorder = new AttemptRecorder(catalog, store, clock);
  }

  /** Clock of every decision; tests may replace it. */
  now(): number {
    return Date.now();
  }

  private get snapshot(): CatalogSnapshot {
    return this.catalog.snapshot;
  }

  async dispatch(route: RouteRequest): Promise<Forward | Frame> {
    const scope = this.scopes.scope(this.snapshot, route.model);
    if (scope.knownProviders.length === 0) return replyFrame(modelNotServedError(route.model));
    return this.proceed(route, scope, firstPosition(), undefined, false);
  }

  /** A parked request whose cooldown wait is over: the next round starts. */
  async nextRound(next: NextRound): Promise<Forward | Frame> {
    const scope = this.scopes.scope(this.snapshot, next.route.model);
    return this.proceed(next.route, scope, positionOfNextRound(next), next.lastFailure, false);
  }

  /**
   * An attempt failed before its first byte (forwarded by the executor with the request
   * body): record it, then the next member of the credential's alias pool, another
   * credential of this round, or the end of the round.
   */
  async attemptFailed(failure: AttemptFailure): Promise<Forward | Frame> {
    const failed = failure.execute as ReturnedAttempt;
    const route = failed.route;
    const scope = this.scopes.scope(this.snapshot, route.model);
    const view = attemptFailureView(failure);
    // Go's execModels loop: the next member of an alias pool on the same credential comes
    // before any other credential; a request-shaped error stops as everywhere.
    const pool = view.requestInvalid ? { models: [] } : this.poolLeft(scope, failed);
    await this.recordFailure(failure, scope, view.requestInvalid, pool.models.length > 0);
    const [next, ...rest] = pool.models;
    if (next && pool.credential) {
      metrics.retries.inc({ family: failed.family, kind: 'alias_pool' });
      return this.forwardAttempt(
        route,
        { credential: pool.credential, upstream: next, pool: rest },
        positionInPool(failed),
      );
    }
    const position = positionAfterFailure(failed);
    const action = afterAttemptFailure(this.snapshot.settings, position.roundTried.length, view);
    if (action.action === 'give-up') return replyFrame(upstreamFailureResponse(failure));
    const after = await this.proceed(route, scope, position, failure, action.action === 'end-round');
    this.countRetry(after, failed);
    return after;
  }

  /** Every finished attempt (success, or failure after the first byte). */
  async attemptFinished(result: AttemptResult): Promise<void> {
    await this.recorder.record(result.credentialId, {
      success: result.ok,
      model: result.baseModel,
      status: result.status,
      ...(result.error !== undefined ? { message: result.error } : {}),
      ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
    });
  }

  /**
   * A batch of finished attempts, in order (so the last result on a credential is the one
   * that stands); one failing to commit does not keep the others from committing.
   */
  async attemptsFinished(results: readonly AttemptResult[]): Promise<void> {
    let failed: unknown;
    for (const result of results) {
      try {
        await this.attemptFinished(result);
      } catch (err) {
        failed ??= err;
      }
    }
    if (failed !== undefined) throw failed;
  }

  /** POST /v0/management/reset-quota: clear every cooldown of the credential. */
  async resetQuota(credentialId: string): Promise<CredentialState | undefined> {
    const now = this.now();
    const result = await this.store.update(credentialId, (current) =>
      current ? resetCooldowns(current, now) : undefined,
    );
    return result.state;
  }

  /** After a catalog reload: bindings of credentials that were disabled or removed are dropped. */
  async catalogChanged(): Promise<void> {
    const enabled = new Set(this.snapshot.credentials.filter((c) => !c.disabled).map((c) => c.id));
    const previous = this.enabledIds;
    this.enabledIds = enabled;
    if (!previous) return;
    for (const id of previous) if (!enabled.has(id)) await this.store.invalidateBindings(id);
  }

  /**
   * Picks for the current round, or moves on to the next round, or ends. A round that must
   * wait for a cooldown is parked in Redis (a delayed forward to Patterns.nextRound, body
   * and reply address kept) instead of holding this handler for up to max-retry-interval.
   */
  private async proceed(
    route: RouteRequest,
    scope: RouteScope,
    position: RetryPosition,
    lastFailure: AttemptFailure | undefined,
    roundOver: boolean,
  ): Promise<Forward | Frame> {
    for (;;) {
      let pickError: PickError = { code: 'auth_unavailable' };
      if (!roundOver) {
        const picked = await this.timedPick(route, scope, position.roundTried);
        if (picked.ok) return this.forwardAttempt(route, picked, position);
        pickError = picked.error;
      }
      const now = this.now();
      const decision = nextRound(
        this.snapshot.settings,
        position.round,
        lastFailure ? attemptFailureView(lastFailure) : undefined,
        this.cooldownViews(scope, now),
        now,
      );
      if (decision.action === 'give-up') return this.finalReply(route, scope, lastFailure, pickError);
      if (decision.waitMs > 0)
        return forward(Patterns.nextRound, parkedRound(route, position, decision.nextRound, lastFailure), undefined, {
          delayMs: decision.waitMs,
        });
      position = { ...position, round: decision.nextRound, roundTried: [] };
      roundOver = false;
    }
  }

  private async timedPick(route: RouteRequest, scope: RouteScope, tried: readonly string[]): Promise<PickResult> {
    const started = performance.now();
    const picked = await this.picker.pick(route, scope, tried);
    metrics.pickDuration.observe({ outcome: picked.ok ? 'picked' : 'none' }, secondsSince(started));
    return picked;
  }

  private forwardAttempt(route: RouteRequest, picked: PickedAttempt, position: RetryPosition): Forward {
    return forward(Patterns.execute(picked.credential.info.provider), scheduledAttempt(route, picked, position));
  }

  /** No round left: the last upstream failure as it came (Go's lastErr), else the pick's error. */
  private finalReply(
    route: RouteRequest,
    scope: RouteScope,
    lastFailure: AttemptFailure | undefined,
    pickError: PickError,
  ): Frame {
    const final = finalFailure(lastFailure, pickError);
    if (final.source === 'upstream') return replyFrame(upstreamFailureResponse(final.failure));
    return replyFrame(
      pickErrorResponse(final.error, scope.providers.length > 0 ? scope.providers : scope.knownProviders, route.model),
    );
  }

  /** Usable pool members left on the failed attempt's credential (none when it is not pooled). */
  private poolLeft(
    scope: RouteScope,
    failed: ReturnedAttempt,
  ): { credential?: RoutedCredential; models: UpstreamModel[] } {
    // Names only select among the candidate's own members, so a stale list cannot send anything else upstream.
    const remaining = poolRemainingOf(failed);
    const candidate = failed.credentialId !== undefined ? scope.byId.get(failed.credentialId) : undefined;
    if (remaining.length === 0 || !candidate) return { models: [] };
    const withState = { ...candidate.credential, state: this.store.cachedState(candidate.credential.id) };
    return {
      credential: candidate.credential,
      models: remainingPoolModels({ ...candidate, credential: withState }, remaining, this.now()),
    };
  }

  /**
   * The failure's MarkResult, committed with the session's bindings to the credential
   * removed, unless the credential keeps serving the session through its alias pool.
   */
  private recordFailure(
    failure: AttemptFailure,
    scope: RouteScope,
    requestInvalid: boolean,
    poolGoesOn: boolean,
  ): Promise<void> {
    const failed = failure.execute;
    const session = this.picker.sessionKeys(failed.route, scope);
    const removals =
      session && !poolGoesOn
        ? affinityAfterResult(session, failed.credentialId, { success: false, requestInvalid }).remove
        : [];
    return this.recorder.record(
      failed.credentialId,
      {
        success: false,
        model: failed.baseModel,
        // Network errors and empty streams carry no upstream status: they fail over without cooling.
        status: failure.network ? 0 : failure.status,
        message: failure.body,
        ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      },
      removals.map((r) => r.key),
    );
  }

  /** What the failure led to, for the retry metrics: another credential, the same one again, or the next round. */
  private countRetry(after: Forward | Frame, failed: ExecuteRequest): void {
    const kind = afterFailure(after, failed.credentialId);
    if (kind === 'failover') metrics.failovers.inc({ family: failed.family });
    else if (kind) metrics.retries.inc({ family: failed.family, kind });
  }

  /** Every enabled candidate of the model, for the nearest cooldown between rounds. */
  private cooldownViews(scope: RouteScope, now: number): CooldownView[] {
    return scope.candidates.map((candidate) => {
      const credential = candidate.credential;
      return {
        ...(credential.requestRetry !== undefined ? { requestRetry: credential.requestRetry } : {}),
        // A pool is blocked only while every member is; its earliest member ends the wait.
        block: candidateBlock(
          { ...candidate, credential: { ...credential, state: this.store.cachedState(credential.id) } },
          now,
        ),
      };
    });
  }
}
