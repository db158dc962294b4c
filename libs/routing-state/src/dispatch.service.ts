import { Injectable } from '@nestjs/common';
import { Catalog, type CatalogSnapshot } from '@cpa/catalog';
import { Patterns, type AttemptFailure, type AttemptResult, type ExecuteRequest, type ResponseHead, type RouteRequest } from '@cpa/contracts';
import {
  affinityAfterResult,
  affinityScope,
  afterAttemptFailure,
  availableCredentials,
  bindingKeys,
  candidateBlock,
  decideAffinity,
  finalFailure,
  isRequestInvalidError,
  markResult,
  newCredentialState,
  nextRound,
  normalizeUpstreamError,
  pickCredential,
  pickErrorResponse,
  poolRotationKey,
  prepareExecutionModels,
  remainingPoolModels,
  resetCooldowns,
  resolveCoolingPolicy,
  selectionStateKeys,
  stripCredentialPrefix,
  type AttemptFailureView,
  type AttemptOutcome,
  type BindingKeys,
  type CoolingSettings,
  type CooldownView,
  type CredentialState,
  type ErrorResponse,
  type PickError,
  type PickOutcome,
  type RetryConfig,
  type RoutingStrategy,
  type SelectionState,
  type UpstreamModel,
  type WeightedState,
} from '@cpa/routing';
import { metrics, secondsSince } from '@cpa/runtime/metrics';
import { forward, frame, type Forward, type Frame } from '@cpa/transport';
import { afterFailure, startedCooldown } from './dispatch-metrics';
import { RouteScopes, type RouteScope, type RoutedCredential } from './route-scope';
import { RoutingStateStore, type PickRead } from './routing-state.store';

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

interface Progress {
  attempt: number;
  round: number;
  roundTried: string[];
  tried: string[];
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

export type PickResult =
  | {
      ok: true;
      credential: RoutedCredential;
      /** The upstream model to try first. */
      upstream: UpstreamModel;
      /** Further alias pool members to try on this credential, in order (usually none). */
      pool: UpstreamModel[];
      provider: string;
    }
  | { ok: false; error: PickError };

type StrategyOutcome = PickOutcome<RoutedCredential & { state?: CredentialState }> | 'conflict';

const MAX_PICK_PASSES = 16;
/** Weighted credits are compare-and-set; conflicts only come from other replicas (see serial). */
const MAX_WEIGHTED_CONFLICTS = 64;

/** A final reply: one frame with head and the whole body. */
export function replyFrame(response: ErrorResponse): Frame {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) headers[name.toLowerCase()] = value;
  const head: ResponseHead = { status: response.status, headers, complete: true };
  return frame(head, Buffer.from(response.body));
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** JSON of a state without its timestamps: a transition that only moves updatedAt is no change. */
function stateFingerprint(state: CredentialState | undefined): string {
  return JSON.stringify(state ?? null, (key, value: unknown) => (key === 'updatedAt' ? undefined : value));
}

/**
 * The scheduler's decisions on the request path (Go's Manager.Execute split over messages):
 * pick a credential for a routed request; on a failed attempt record it, then try another
 * credential, wait for the nearest cooldown and start another round, or answer with the
 * final error. All shared state is in Redis (RoutingStateStore); rules are @cpa/routing's.
 */
@Injectable()
export class DispatchService {
  private readonly scopes = new RouteScopes();
  private enabledIds?: Set<string>;
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly store: RoutingStateStore,
  ) {}

  /** Clock of every decision; tests may replace it. */
  now(): number {
    return Date.now();
  }

  private get snapshot(): CatalogSnapshot {
    return this.catalog.snapshot;
  }

  async dispatch(route: RouteRequest): Promise<Forward | Frame> {
    const scope = this.scopes.scope(this.snapshot, route.model);
    if (scope.knownProviders.length === 0) {
      return replyFrame({
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: { message: `The model ${route.model} is not served by any configured credential`, type: 'invalid_request_error', code: 'model_not_found' } }),
      });
    }
    return this.proceed(route, scope, { attempt: 0, round: 0, roundTried: [], tried: [] }, undefined, false);
  }

  /** A parked request whose cooldown wait is over: the next round starts. */
  async nextRound(next: NextRound): Promise<Forward | Frame> {
    const scope = this.scopes.scope(this.snapshot, next.route.model);
    return this.proceed(next.route, scope, { attempt: next.attempt, round: next.round, roundTried: [], tried: next.tried }, next.lastFailure, false);
  }

  /** An attempt failed before its first byte (forwarded by the executor with the request body). */
  async attemptFailed(failure: AttemptFailure): Promise<Forward | Frame> {
    const execute = failure.execute as Partial<ScheduledAttempt> & ExecuteRequest;
    const route = execute.route;
    const scope = this.scopes.scope(this.snapshot, route.model);
    const view = this.failureView(failure);
    // Go's execModels loop: the next member of an alias pool on the same credential comes
    // before any other credential; a request-shaped error stops as everywhere.
    const pool = view.requestInvalid ? { models: [] } : this.poolLeft(scope, execute);
    const affinity = this.affinityKeys(route, scope);
    // The session stays on a credential that keeps serving it through its pool.
    const removals = affinity && pool.models.length === 0 ? affinityAfterResult(affinity, execute.credentialId, { success: false, requestInvalid: view.requestInvalid }).remove : [];
    await this.record(
      execute.credentialId,
      {
        success: false,
        model: execute.baseModel,
        // Network errors and empty streams carry no upstream status: they fail over without cooling.
        status: failure.network ? 0 : failure.status,
        message: failure.body,
        ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      },
      removals.map((r) => r.key),
    );
    const roundTried = execute.roundTried ?? execute.triedCredentialIds;
    const [next, ...rest] = pool.models;
    if (next && pool.credential) {
      metrics.retries.inc({ family: execute.family, kind: 'alias_pool' });
      // Same credential: it stays where it is in the tried lists and the round's count.
      const others = (ids: readonly string[]) => ids.filter((id) => id !== execute.credentialId);
      return this.forwardAttempt(
        route,
        { credential: pool.credential, upstream: next, pool: rest },
        { attempt: execute.attempt + 1, round: execute.round ?? 0, roundTried: others(roundTried), tried: others(execute.triedCredentialIds) },
      );
    }
    const progress: Progress = { attempt: execute.attempt + 1, round: execute.round ?? 0, roundTried, tried: execute.triedCredentialIds };
    const action = afterAttemptFailure(this.retryConfig(), roundTried.length, view);
    if (action.action === 'give-up') return this.upstreamReply(failure);
    const after = await this.proceed(route, scope, progress, failure, action.action === 'end-round');
    const kind = afterFailure(after, execute.credentialId);
    if (kind === 'failover') metrics.failovers.inc({ family: execute.family });
    else if (kind) metrics.retries.inc({ family: execute.family, kind });
    return after;
  }

  /** Every finished attempt (success, or failure after the first byte). */
  async attemptFinished(result: AttemptResult): Promise<void> {
    await this.record(result.credentialId, {
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
    const result = await this.store.update(credentialId, (current) => (current ? resetCooldowns(current, now) : undefined));
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
  private async proceed(route: RouteRequest, scope: RouteScope, progress: Progress, lastFailure: AttemptFailure | undefined, roundOver: boolean): Promise<Forward | Frame> {
    for (;;) {
      let pickError: PickError = { code: 'auth_unavailable' };
      if (!roundOver) {
        const pickStarted = performance.now();
        const picked = await this.pick(route, scope, progress.roundTried);
        metrics.pickDuration.observe({ outcome: picked.ok ? 'picked' : 'none' }, secondsSince(pickStarted));
        if (picked.ok) return this.forwardAttempt(route, picked, progress);
        pickError = picked.error;
      }
      const now = this.now();
      const decision = nextRound(this.retryConfig(), progress.round, lastFailure ? this.failureView(lastFailure) : undefined, this.cooldownViews(scope, now), now);
      if (decision.action === 'give-up') {
        const final = finalFailure(lastFailure, pickError);
        if (final.source === 'upstream') return this.upstreamReply(final.failure);
        return replyFrame(pickErrorResponse(final.error, scope.providers.length > 0 ? scope.providers : scope.knownProviders, route.model));
      }
      if (decision.waitMs > 0) {
        const next: NextRound = { route, attempt: progress.attempt, round: decision.nextRound, tried: progress.tried, ...(lastFailure ? { lastFailure } : {}) };
        return forward(Patterns.nextRound, next, undefined, { delayMs: decision.waitMs });
      }
      progress = { ...progress, round: decision.nextRound, roundTried: [] };
      roundOver = false;
    }
  }

  /** Usable pool members left on the failed attempt's credential (none when it is not pooled). */
  private poolLeft(scope: RouteScope, execute: Partial<ScheduledAttempt>): { credential?: RoutedCredential; models: UpstreamModel[] } {
    // Names only select among the candidate's own members, so a stale list cannot send anything else upstream.
    const remaining = Array.isArray(execute.poolRemaining) ? execute.poolRemaining.filter((name): name is string => typeof name === 'string') : [];
    const candidate = execute.credentialId !== undefined ? scope.byId.get(execute.credentialId) : undefined;
    if (remaining.length === 0 || !candidate) return { models: [] };
    const withState = { ...candidate.credential, state: this.store.cachedState(candidate.credential.id) };
    return { credential: candidate.credential, models: remainingPoolModels({ ...candidate, credential: withState }, remaining, this.now()) };
  }

  private forwardAttempt(route: RouteRequest, picked: Pick<Extract<PickResult, { ok: true }>, 'credential' | 'upstream' | 'pool'>, progress: Progress): Forward {
    const id = picked.credential.id;
    const execute: ScheduledAttempt = {
      route,
      credentialId: id,
      family: picked.credential.info.provider,
      upstreamModel: picked.upstream.upstreamModel,
      baseModel: picked.upstream.stateModel,
      attempt: progress.attempt,
      triedCredentialIds: [...progress.tried, id],
      round: progress.round,
      roundTried: [...progress.roundTried, id],
      ...(picked.pool.length > 0 ? { poolRemaining: picked.pool.map((u) => u.upstreamModel) } : {}),
    };
    return forward(Patterns.execute(picked.credential.info.provider), execute);
  }

  /**
   * One pick: candidates not tried in this round, the strategy, and session affinity; then
   * the upstream models to try on the credential (Go's preparedExecutionModels): an alias
   * pool starts at its shared rotation counter, cooling members left out. A credential none
   * of whose upstream models is usable is skipped without counting as an attempt.
   */
  async pick(route: Pick<RouteRequest, 'model' | 'sessionIds'>, scope: RouteScope = this.scopes.scope(this.snapshot, route.model), tried: readonly string[] = []): Promise<PickResult> {
    const skipped: string[] = [];
    for (let pass = 0; pass < MAX_PICK_PASSES; pass++) {
      const excluded = new Set([...tried, ...skipped]);
      const candidates = excluded.size > 0 ? scope.ranked.filter((c) => !excluded.has(c.id)) : scope.ranked;
      const outcome = await this.choose(route, scope, candidates);
      if (!outcome.ok) return outcome;
      const candidate = scope.byId.get(outcome.credential.id);
      if (!candidate) return { ok: false, error: { code: 'auth_unavailable' } };
      const offset = candidate.pooled ? await this.store.nextPoolOffset(poolRotationKey(candidate.credential, stripCredentialPrefix(route.model.trim(), candidate.credential.prefix))) : 0;
      const [upstream, ...pool] = prepareExecutionModels({ ...candidate, credential: outcome.credential }, offset, this.now());
      if (upstream) return { ok: true, credential: candidate.credential, upstream, pool, provider: outcome.provider };
      skipped.push(candidate.credential.id);
    }
    return { ok: false, error: { code: 'auth_unavailable' } };
  }

  private affinityKeys(route: Pick<RouteRequest, 'sessionIds'>, scope: RouteScope): BindingKeys | undefined {
    const [primary, fallback] = route.sessionIds;
    if (!this.snapshot.settings.sessionAffinity || !primary) return undefined;
    return bindingKeys(affinityScope(scope.providers), { primary, ...(fallback ? { fallback } : {}) }, scope.stateModel);
  }

  /**
   * Weighted picks of one key run one at a time per replica: their credits are a
   * read-modify-write, and queuing locally leaves compare-and-set conflicts to the rare
   * race with another replica instead of every concurrent request.
   */
  private serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private choose(route: Pick<RouteRequest, 'sessionIds'>, scope: RouteScope, candidates: readonly RoutedCredential[]): Promise<PickOutcome<RoutedCredential & { state?: CredentialState }>> {
    const strategy = this.snapshot.settings.strategy;
    if (strategy !== 'weighted-round-robin') return this.chooseNow(route, scope, candidates);
    const [key = ''] = selectionStateKeys(strategy, scope.providers, scope.stateModel).weighted;
    return this.serial(key, () => this.chooseNow(route, scope, candidates));
  }

  /** Strategy and affinity over shared state: one read script, commits only when needed. `candidates` keep scope.ranked's order. */
  private async chooseNow(route: Pick<RouteRequest, 'sessionIds'>, scope: RouteScope, candidates: readonly RoutedCredential[]): Promise<PickOutcome<RoutedCredential & { state?: CredentialState }>> {
    const settings = this.snapshot.settings;
    const strategy = settings.strategy;
    const selection = selectionStateKeys(strategy, scope.providers, scope.stateModel);
    const affinity = this.affinityKeys(route, scope);
    const bindingNames = affinity ? [affinity.primary, ...(affinity.fallback ? [affinity.fallback] : [])] : [];
    const ttl = settings.sessionAffinityTtlMs;
    for (let attempt = 0; attempt < MAX_WEIGHTED_CONFLICTS; attempt++) {
      if (attempt > 0) await sleep(Math.floor(Math.random() * Math.min(attempt, 10)));
      const read = await this.store.readForPick({
        cursors: selection.cursors,
        incrementFirstCursor: true,
        weighted: selection.weighted,
        bindings: bindingNames,
        bindingTtlMs: affinity ? ttl : 0,
      });
      const now = this.now();
      // Most credentials have no state: they go in as they are, without a copy.
      const withState = candidates.map((c) => {
        const state = this.store.cachedState(c.id);
        return state ? { ...c, state } : c;
      });
      if (!affinity) {
        const outcome = await this.strategyPick(strategy, scope, withState, read, now);
        if (outcome !== 'conflict') return outcome;
        continue;
      }
      const available = availableCredentials(withState, undefined, scope.stateModel, now, true);
      if (!available.ok) return pickCredential({ strategy, providers: scope.providers, model: scope.stateModel, candidates: withState, ranked: true, now, state: { cursors: {}, weighted: {} } });
      const availableIds = available.available.map((c) => c.id);
      const byId = new Map(withState.map((c) => [c.id, c]));
      const decision = decideAffinity({
        keys: affinity,
        bound: { primary: read.bindings[0] ?? undefined, fallback: read.bindings[1] ?? undefined },
        availableIds,
      });
      if (decision.kind === 'hit') {
        let id = decision.credentialId;
        if (decision.via === 'fallback') {
          // A later turn inherits the first turn's credential under its own id too.
          const bound = await this.store.bind(decision.bind, id, ttl, { kind: 'nx' });
          if (availableIds.includes(bound)) id = bound;
        }
        const credential = byId.get(id)!;
        return { ok: true, credential, provider: credential.provider, update: { cursors: {}, weighted: {} } };
      }
      const outcome = await this.strategyPick(strategy, scope, withState, read, now);
      if (outcome === 'conflict') continue;
      if (!outcome.ok) return outcome;
      const mode = decision.reason === 'rebind' && decision.previous !== undefined ? { kind: 'replace' as const, expected: decision.previous } : { kind: 'nx' as const };
      const bound = await this.store.bind(decision.bind, outcome.credential.id, ttl, mode);
      if (bound !== outcome.credential.id && availableIds.includes(bound)) {
        // Another request of this session bound first: follow it.
        const credential = byId.get(bound)!;
        return { ...outcome, credential, provider: credential.provider };
      }
      return outcome;
    }
    throw new Error('routing state kept changing during the pick');
  }

  /**
   * pickCredential over the values read. Cursors the read did not advance (multi-provider
   * inner cursors, or a pick after a binding was found) are advanced now and the pick is
   * repeated with the slots obtained, so concurrent picks on any replica never share a slot;
   * weighted credits are committed with compare-and-set.
   */
  private async strategyPick(
    strategy: RoutingStrategy,
    scope: RouteScope,
    candidates: readonly (RoutedCredential & { state?: CredentialState })[],
    read: PickRead,
    now: number,
  ): Promise<StrategyOutcome> {
    const weighted: Record<string, WeightedState> = {};
    for (const [key, json] of Object.entries(read.weighted)) if (json) weighted[key] = JSON.parse(json) as WeightedState;
    const state: SelectionState = { cursors: { ...read.cursors }, weighted };
    const order = selectionStateKeys(strategy, scope.providers, scope.stateModel).cursors;
    const request = { strategy, providers: scope.providers, model: scope.stateModel, candidates, ranked: true, now, state };
    let outcome = pickCredential(request);
    for (let i = 0; i < order.length && outcome.ok; i++) {
      const pending = order.find((key) => key in (outcome.ok ? outcome.update.cursors : {}) && !read.advanced.has(key));
      if (pending === undefined) break;
      state.cursors[pending] = await this.store.incrementCursor(pending);
      read.advanced.add(pending);
      outcome = pickCredential(request);
    }
    if (!outcome.ok) return outcome;
    for (const [key, next] of Object.entries(outcome.update.weighted)) {
      if (!(await this.store.compareAndSetWeighted(key, read.weighted[key] ?? null, JSON.stringify(next)))) return 'conflict';
    }
    return outcome;
  }

  /** MarkResult in TypeScript, committed with optimistic concurrency in one script call. */
  private async record(credentialId: string, outcome: AttemptOutcome, removeBindings: readonly string[] = []): Promise<void> {
    // The common case, a success on a credential this replica knows to be clean (its cache
    // follows every pick's change log), needs no Redis call at all.
    if (outcome.success && removeBindings.length === 0 && this.store.isKnownClean(credentialId)) return;
    const info = this.snapshot.byId.get(credentialId);
    const policy = resolveCoolingPolicy(this.coolingSettings(), info?.disableCooling !== undefined ? { disableCooling: info.disableCooling } : undefined);
    const now = this.now();
    // The transition last computed (the update may retry it on a conflict) and the cooldown it starts.
    let cooled: string | undefined;
    const result = await this.store.update(
      credentialId,
      (current) => {
        cooled = undefined;
        // A success on a credential without state has nothing to clear.
        if (!current && outcome.success) return undefined;
        const decision = markResult(current, outcome, now, policy);
        const next = decision.state;
        if (stateFingerprint(next) === stateFingerprint(current ?? newCredentialState())) return undefined;
        cooled = startedCooldown(decision, now);
        return next;
      },
      removeBindings,
    );
    if (cooled && result.changed) metrics.cooldowns.inc({ family: info?.provider ?? 'unknown', reason: cooled });
  }

  private failureView(failure: AttemptFailure): AttemptFailureView {
    return { status: failure.status, requestInvalid: !failure.network && isRequestInvalidError(failure.status, failure.body) };
  }

  private upstreamReply(failure: AttemptFailure): Frame {
    const headers: Record<string, string> = { ...failure.headers };
    const hasRetryAfter = Object.keys(headers).some((k) => k.toLowerCase() === 'retry-after');
    if (!hasRetryAfter && failure.status === 429 && failure.retryAfterMs !== undefined && failure.retryAfterMs > 0) {
      headers['retry-after'] = String(Math.ceil(failure.retryAfterMs / 1000));
    }
    return replyFrame(normalizeUpstreamError(failure.status, failure.body, headers));
  }

  /** Every enabled candidate of the model, for the nearest cooldown between rounds. */
  private cooldownViews(scope: RouteScope, now: number): CooldownView[] {
    return scope.candidates.map((candidate) => {
      const credential = candidate.credential;
      return {
        ...(credential.requestRetry !== undefined ? { requestRetry: credential.requestRetry } : {}),
        // A pool is blocked only while every member is; its earliest member ends the wait.
        block: candidateBlock({ ...candidate, credential: { ...credential, state: this.store.cachedState(credential.id) } }, now),
      };
    });
  }

  private retryConfig(): RetryConfig {
    const s = this.snapshot.settings;
    return { requestRetry: s.requestRetry, maxRetryCredentials: s.maxRetryCredentials, maxRetryIntervalMs: s.maxRetryIntervalMs };
  }

  private coolingSettings(): CoolingSettings {
    const s = this.snapshot.settings;
    return { disableCooling: s.disableCooling, transientErrorCooldownSeconds: s.transientCooldownMs < 0 ? -1 : Math.round(s.transientCooldownMs / 1000) };
  }
}
