import type { Catalog, RoutingSettings } from '@cpa/catalog';
import type { RouteRequest } from '@cpa/contracts';
import {
  availableCredentials,
  bindModeAfterPick,
  cursorToAdvance,
  decideAffinity,
  pickCredential,
  poolRotationKey,
  prepareExecutionModels,
  selectionStateKeys,
  sessionBindingKeys,
  stripCredentialPrefix,
  type AffinityDecision,
  type BindingKeys,
  type CredentialState,
  type PickError,
  type PickOutcome,
  type RoutingStrategy,
  type SelectionState,
  type WeightedState,
} from '@cpa/routing';
import type { RouteScope, RoutedCredential } from './route-scope';
import type { PickRead, RoutingStateStore } from './routing-state.store';
import type { PickedAttempt } from './scheduled-attempt';
import { SerialQueues } from './serial-queues';

export type PickResult = ({ ok: true; provider: string } & PickedAttempt) | { ok: false; error: PickError };

/** A candidate with the state this replica's cache holds for it (none: never failed). */
type StatefulCredential = RoutedCredential & { state?: CredentialState };
type Outcome = PickOutcome<StatefulCredential>;
/** A weighted pick whose credits another replica changed first: read and pick again. */
type Conflict = 'conflict';

const MAX_PICK_PASSES = 16;
/** Weighted credits are compare-and-set; conflicts only come from other replicas (see serial). */
const MAX_WEIGHTED_CONFLICTS = 64;

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps the store's credit values as read: the compare-and-set expects exactly these. */
function selectionStateOf(read: PickRead): SelectionState {
  const weighted: Record<string, WeightedState> = {};
  for (const [key, json] of Object.entries(read.weighted)) if (json) weighted[key] = JSON.parse(json) as WeightedState;
  return { cursors: { ...read.cursors }, weighted };
}

/**
 * One pick of a credential over the shared routing state (Go's pickNextMixed with the
 * session affinity selector around it): read the state in one script, follow the session's
 * binding or let the strategy pick, commit only what the pick moved; then the upstream
 * models to try on the credential.
 */
export class CredentialPicker {
  private readonly serial = new SerialQueues();

  constructor(
    private readonly catalog: Catalog,
    private readonly store: RoutingStateStore,
    private readonly now: () => number,
  ) {}

  private get settings(): RoutingSettings {
    return this.catalog.snapshot.settings;
  }

  /** The session's binding keys when session affinity is on and the request has a session id. */
  sessionKeys(route: Pick<RouteRequest, 'sessionIds'>, scope: RouteScope): BindingKeys | undefined {
    return this.settings.sessionAffinity
      ? sessionBindingKeys(route.sessionIds, scope.providers, scope.stateModel)
      : undefined;
  }

  /**
   * One pick: candidates not tried in this round, the strategy, and session affinity; then
   * the upstream models to try on the credential (Go's preparedExecutionModels): an alias
   * pool starts at its shared rotation counter, cooling members left out. A credential none
   * of whose upstream models is usable is skipped without counting as an attempt.
   */
  async pick(
    route: Pick<RouteRequest, 'model' | 'sessionIds'>,
    scope: RouteScope,
    tried: readonly string[],
  ): Promise<PickResult> {
    const skipped: string[] = [];
    for (let pass = 0; pass < MAX_PICK_PASSES; pass++) {
      const excluded = new Set([...tried, ...skipped]);
      const candidates = excluded.size > 0 ? scope.ranked.filter((c) => !excluded.has(c.id)) : scope.ranked;
      const outcome = await this.choose(route, scope, candidates);
      if (!outcome.ok) return outcome;
      const candidate = scope.byId.get(outcome.credential.id);
      if (!candidate) return { ok: false, error: { code: 'auth_unavailable' } };
      const offset = candidate.pooled
        ? await this.store.nextPoolOffset(
            poolRotationKey(
              candidate.credential,
              stripCredentialPrefix(route.model.trim(), candidate.credential.prefix),
            ),
          )
        : 0;
      const [upstream, ...pool] = prepareExecutionModels(
        { ...candidate, credential: outcome.credential },
        offset,
        this.now(),
      );
      if (upstream) return { ok: true, credential: candidate.credential, upstream, pool, provider: outcome.provider };
      skipped.push(candidate.credential.id);
    }
    return { ok: false, error: { code: 'auth_unavailable' } };
  }

  /**
   * Weighted picks of one key run one at a time per replica: their credits are a
   * read-modify-write, and queuing locally leaves compare-and-set conflicts to the rare
   * race with another replica instead of every concurrent request.
   */
  private choose(
    route: Pick<RouteRequest, 'sessionIds'>,
    scope: RouteScope,
    candidates: readonly RoutedCredential[],
  ): Promise<Outcome> {
    const strategy = this.settings.strategy;
    if (strategy !== 'weighted-round-robin') return this.chooseNow(route, scope, candidates);
    const [key = ''] = selectionStateKeys(strategy, scope.providers, scope.stateModel).weighted;
    return this.serial.run(key, () => this.chooseNow(route, scope, candidates));
  }

  /** Strategy and affinity over shared state: one read script, commits only when needed. `candidates` keep scope.ranked's order. */
  private async chooseNow(
    route: Pick<RouteRequest, 'sessionIds'>,
    scope: RouteScope,
    candidates: readonly RoutedCredential[],
  ): Promise<Outcome> {
    const { strategy, sessionAffinityTtlMs: ttl } = this.settings;
    const selection = selectionStateKeys(strategy, scope.providers, scope.stateModel);
    const session = this.sessionKeys(route, scope);
    const bindingNames = session ? [session.primary, ...(session.fallback ? [session.fallback] : [])] : [];
    for (let attempt = 0; attempt < MAX_WEIGHTED_CONFLICTS; attempt++) {
      if (attempt > 0) await sleep(Math.floor(Math.random() * Math.min(attempt, 10)));
      const read = await this.store.readForPick({
        cursors: selection.cursors,
        incrementFirstCursor: true,
        weighted: selection.weighted,
        bindings: bindingNames,
        bindingTtlMs: session ? ttl : 0,
      });
      const now = this.now();
      const withState = this.withCachedStates(candidates);
      const outcome = session
        ? await this.sessionPick({ keys: session, ttl }, strategy, scope, withState, read, now)
        : await this.strategyPick(strategy, scope, withState, read, now);
      if (outcome !== 'conflict') return outcome;
    }
    throw new Error('routing state kept changing during the pick');
  }

  /** Most credentials have no state: they go in as they are, without a copy. */
  private withCachedStates(candidates: readonly RoutedCredential[]): StatefulCredential[] {
    return candidates.map((c) => {
      const state = this.store.cachedState(c.id);
      return state ? { ...c, state } : c;
    });
  }

  /**
   * Session affinity (Go's SessionAffinitySelector.Pick): the session's bound credential while
   * it is available, else the strategy's pick, bound to the session.
   */
  private async sessionPick(
    session: { keys: BindingKeys; ttl: number },
    strategy: RoutingStrategy,
    scope: RouteScope,
    candidates: readonly StatefulCredential[],
    read: PickRead,
    now: number,
  ): Promise<Outcome | Conflict> {
    const available = availableCredentials(candidates, undefined, scope.stateModel, now, true);
    if (!available.ok)
      return pickCredential({
        strategy,
        providers: scope.providers,
        model: scope.stateModel,
        candidates,
        ranked: true,
        now,
        state: { cursors: {}, weighted: {} },
      });
    const availableIds = available.available.map((c) => c.id);
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const decision = decideAffinity({
      keys: session.keys,
      bound: { primary: read.bindings[0] ?? undefined, fallback: read.bindings[1] ?? undefined },
      availableIds,
    });
    if (decision.kind === 'hit') return this.boundPick(decision, session.ttl, availableIds, byId);
    const outcome = await this.strategyPick(strategy, scope, candidates, read, now);
    if (outcome === 'conflict' || !outcome.ok) return outcome;
    const bound = await this.store.bind(decision.bind, outcome.credential.id, session.ttl, bindModeAfterPick(decision));
    if (bound !== outcome.credential.id && availableIds.includes(bound)) {
      // Another request of this session bound first: follow it.
      const credential = byId.get(bound)!;
      return { ...outcome, credential, provider: credential.provider };
    }
    return outcome;
  }

  /** The session's bound credential; one inherited from the first turn is bound under the session's own id too. */
  private async boundPick(
    decision: Extract<AffinityDecision, { kind: 'hit' }>,
    ttl: number,
    availableIds: readonly string[],
    byId: ReadonlyMap<string, StatefulCredential>,
  ): Promise<Outcome> {
    let id = decision.credentialId;
    if (decision.via === 'fallback') {
      const bound = await this.store.bind(decision.bind, id, ttl, { kind: 'nx' });
      if (availableIds.includes(bound)) id = bound;
    }
    const credential = byId.get(id)!;
    return { ok: true, credential, provider: credential.provider, update: { cursors: {}, weighted: {} } };
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
    candidates: readonly StatefulCredential[],
    read: PickRead,
    now: number,
  ): Promise<Outcome | Conflict> {
    const state = selectionStateOf(read);
    const order = selectionStateKeys(strategy, scope.providers, scope.stateModel).cursors;
    const request = {
      strategy,
      providers: scope.providers,
      model: scope.stateModel,
      candidates,
      ranked: true,
      now,
      state,
    };
    let outcome = pickCredential(request);
    for (let i = 0; i < order.length && outcome.ok; i++) {
      const pending = cursorToAdvance(order, outcome.update, read.advanced);
      if (pending === undefined) break;
      state.cursors[pending] = await this.store.incrementCursor(pending);
      read.advanced.add(pending);
      outcome = pickCredential(request);
    }
    if (!outcome.ok) return outcome;
    for (const [key, next] of Object.entries(outcome.update.weighted)) {
      if (!(await this.store.compareAndSetWeighted(key, read.weighted[key] ?? null, JSON.stringify(next))))
        return 'conflict';
    }
    return outcome;
  }
}
