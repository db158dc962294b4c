/**
 * Selection strategies as pure functions over plain state. Shared state (round-robin
 * cursors, smooth-weighted credits) is passed in and the updated values come back, so a
 * Redis script can hold it and every scheduler replica decides the same way.
 */
import { canonicalModelKey } from './model-name';
import { isBlockedForModel, type BlockableCredential } from './model-state';
import type { RoutingStrategy } from './strategy';

export interface SchedulableCredential extends BlockableCredential {
  id: string;
  /** Provider key: cursor scope and executor (family, or the openai-compat entry name). */
  provider: string;
  /** Higher is preferred; default 0. */
  priority?: number;
  /** Weighted round-robin share; default 1; 0 (or invalid) excludes the credential. */
  weight?: number;
}

export type PickError =
  | { code: 'auth_not_found' }
  | { code: 'auth_unavailable' }
  /** Every candidate is in a quota cooldown; `provider` is absent when several were eligible. */
  | { code: 'model_cooldown'; model: string; provider?: string; resetInMs: number };

export type Availability<T> = { ok: true; available: T[] } | { ok: false; error: PickError };

/** Go's cursor wrap: cursors restart before they overflow a 32-bit int. */
export const CURSOR_WRAP = 2_147_483_640;
export const DEFAULT_WEIGHT = 1;
export const MAX_WEIGHT = 1_000_000;

export function credentialPriority(credential: { priority?: number }): number {
  const p = credential.priority ?? 0;
  return Number.isInteger(p) ? p : 0;
}

/** Go's authWeight: unset -> 1; non-positive, fractional or above the maximum -> 0 (excluded). */
export function credentialWeight(credential: { weight?: number }): number {
  const w = credential.weight;
  if (w === undefined) return DEFAULT_WEIGHT;
  if (!Number.isInteger(w) || w <= 0 || w > MAX_WEIGHT) return 0;
  return w;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Go's getAvailableAuths: unblocked candidates of the highest priority tier that has any,
 * sorted by id (or of every tier with `allPriorities`). When none is available: all in a
 * quota cooldown -> model_cooldown with the earliest reset; otherwise auth_unavailable.
 * `provider` undefined means several providers were eligible (Go's "mixed").
 */
export function availableCredentials<T extends SchedulableCredential>(
  candidates: readonly T[],
  provider: string | undefined,
  model: string,
  now: number,
  allPriorities = false,
): Availability<T> {
  if (candidates.length === 0) return { ok: false, error: { code: 'auth_not_found' } };
  const available: T[] = [];
  let cooldownCount = 0;
  let earliest = 0;
  for (const candidate of candidates) {
    const block = isBlockedForModel(candidate, model, now);
    if (!block.blocked) {
      available.push(candidate);
      continue;
    }
    if (block.reason === 'cooldown') {
      cooldownCount++;
      if (block.next !== 0 && (earliest === 0 || block.next < earliest)) earliest = block.next;
    }
  }
  if (available.length === 0) {
    if (cooldownCount === candidates.length && earliest !== 0) {
      return {
        ok: false,
        error: {
          code: 'model_cooldown',
          model,
          ...(provider ? { provider } : {}),
          resetInMs: Math.max(0, earliest - now),
        },
      };
    }
    return { ok: false, error: { code: 'auth_unavailable' } };
  }
  return { ok: true, available: (allPriorities ? available : highestPriorityTier(available)).sort(byId) };
}

/**
 * Candidates in pick order: highest priority first, then by id. A list in this order lets
 * availableRanked take the best tier without sorting; callers compute it once per model and
 * catalog snapshot (the scheduler's route scopes), so a pick only filters out the blocked.
 */
export function rankCandidates<T extends SchedulableCredential>(candidates: readonly T[]): T[] {
  return [...candidates].sort((a, b) => credentialPriority(b) - credentialPriority(a) || byId(a, b));
}

/**
 * availableCredentials for candidates in rankCandidates order (any subsequence of it): the
 * same answer (the unblocked of the best tier that has any, by id, or the same error), from
 * one pass that stops at the first candidate below that tier and sorts nothing.
 */
export function availableRanked<T extends SchedulableCredential>(
  ranked: readonly T[],
  provider: string | undefined,
  model: string,
  now: number,
): Availability<T> {
  if (ranked.length === 0) return { ok: false, error: { code: 'auth_not_found' } };
  const available: T[] = [];
  let tier = 0;
  let cooldownCount = 0;
  let earliest = 0;
  for (const candidate of ranked) {
    if (available.length > 0 && credentialPriority(candidate) < tier) break;
    const block = isBlockedForModel(candidate, model, now);
    if (!block.blocked) {
      if (available.length === 0) tier = credentialPriority(candidate);
      available.push(candidate);
      continue;
    }
    if (block.reason === 'cooldown') {
      cooldownCount++;
      if (block.next !== 0 && (earliest === 0 || block.next < earliest)) earliest = block.next;
    }
  }
  if (available.length > 0) return { ok: true, available };
  if (cooldownCount === ranked.length && earliest !== 0) {
    return {
      ok: false,
      error: {
        code: 'model_cooldown',
        model,
        ...(provider ? { provider } : {}),
        resetInMs: Math.max(0, earliest - now),
      },
    };
  }
  return { ok: false, error: { code: 'auth_unavailable' } };
}

/** Only the credentials of the highest priority present (input order kept). */
export function highestPriorityTier<T extends { priority?: number }>(credentials: readonly T[]): T[] {
  if (credentials.length === 0) return [];
  const best = Math.max(...credentials.map(credentialPriority));
  return credentials.filter((c) => credentialPriority(c) === best);
}

export function roundRobinCursorKey(provider: string, model: string): string {
  return `${provider}:${canonicalModelKey(model)}`;
}

export function mixedCursorKey(providers: readonly string[], model: string): string {
  return `${providers.join(',')}:${canonicalModelKey(model)}`;
}

function wrapCursor(cursor: number | undefined): number {
  const c = cursor ?? 0;
  return c >= CURSOR_WRAP || c < 0 || !Number.isInteger(c) ? 0 : c;
}

/** Round-robin over id-sorted available credentials; returns the pick and the next cursor value. */
export function roundRobinPick<T>(available: readonly T[], cursor: number | undefined): { pick: T; cursor: number } {
  if (available.length === 0) throw new RangeError('roundRobinPick needs at least one credential');
  const index = wrapCursor(cursor);
  return { pick: available[index % available.length] as T, cursor: index + 1 };
}

/** Fill-first: the first available credential by id ("burns" one account before the next). */
export function fillFirstPick<T>(available: readonly T[]): T {
  if (available.length === 0) throw new RangeError('fillFirstPick needs at least one credential');
  return available[0] as T;
}

/** Smooth weighted round-robin state: current credits and the weights they were built for. */
export interface WeightedState {
  weights: Record<string, number>;
  current: Record<string, number>;
}

function sameWeights(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/**
 * Smooth weighted round-robin (nginx style, as Go's WeightedRoundRobinSelector): every pick
 * adds each weight to its credit, takes the highest credit (ties: first by id) and
 * subtracts the total. Weights 5:3:2 give exactly 50/30/20 over 100 picks. A change in the
 * weight vector (including a credential joining or leaving) resets the credits.
 */
export function smoothWeightedPick<T extends { id: string; weight?: number }>(
  available: readonly T[],
  state: WeightedState | undefined,
): { pick: T; state: WeightedState } | undefined {
  const weighted = available.filter((c) => credentialWeight(c) > 0);
  if (weighted.length === 0) return undefined;
  const weights: Record<string, number> = {};
  for (const c of weighted) weights[c.id] = credentialWeight(c);
  const current: Record<string, number> = state && sameWeights(state.weights, weights) ? { ...state.current } : {};
  let picked: T | undefined;
  let total = 0;
  for (const c of weighted) {
    const credit = (current[c.id] ?? 0) + (weights[c.id] ?? 0);
    current[c.id] = credit;
    total += weights[c.id] ?? 0;
    if (picked === undefined || credit > (current[picked.id] ?? 0)) picked = c;
  }
  for (const id of Object.keys(current)) if (!(id in weights)) delete current[id];
  if (picked === undefined) return undefined;
  current[picked.id] = (current[picked.id] ?? 0) - total;
  return { pick: picked, state: { weights, current } };
}

/** Shared selection state read before a pick (only the keys selectionStateKeys names matter). */
export interface SelectionState {
  cursors: Record<string, number>;
  weighted: Record<string, WeightedState>;
}

export interface SelectionUpdate {
  cursors: Record<string, number>;
  weighted: Record<string, WeightedState>;
}

export type PickOutcome<T> =
  { ok: true; credential: T; provider: string; update: SelectionUpdate } | { ok: false; error: PickError };

export interface PickRequest<T> {
  strategy: RoutingStrategy;
  /** Eligible providers in request order (several: multi-provider rotation). */
  providers: readonly string[];
  model: string;
  /** Candidates already filtered for model support, tried ids and the pinned credential. */
  candidates: readonly T[];
  /** The candidates are in rankCandidates order: the pick takes the best tier without sorting (same result). */
  ranked?: boolean;
  now: number;
  state: SelectionState;
}

function normalizeProviders(providers: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of providers) {
    const p = raw.trim().toLowerCase();
    if (p !== '' && !out.includes(p)) out.push(p);
  }
  return out;
}

/** Which shared keys a pick reads and may write, so the caller can load just those. */
export function selectionStateKeys(
  strategy: RoutingStrategy,
  providers: readonly string[],
  model: string,
): { cursors: string[]; weighted: string[] } {
  const normalized = normalizeProviders(providers);
  if (strategy === 'fill-first') return { cursors: [], weighted: [] };
  if (strategy === 'weighted-round-robin') {
    return {
      cursors: [],
      weighted: [
        normalized.length === 1 ? roundRobinCursorKey(normalized[0] ?? '', model) : mixedCursorKey(normalized, model),
      ],
    };
  }
  if (normalized.length === 1) return { cursors: [roundRobinCursorKey(normalized[0] ?? '', model)], weighted: [] };
  return {
    cursors: [mixedCursorKey(normalized, model), ...normalized.map((p) => roundRobinCursorKey(p, model))],
    weighted: [],
  };
}

/** Picks one credential for a request with the given strategy (Go's selector Pick / pickMixed). */
export function pickCredential<T extends SchedulableCredential>(request: PickRequest<T>): PickOutcome<T> {
  const providers = normalizeProviders(request.providers);
  const inScope = request.candidates.filter((c) => providers.includes(c.provider.trim().toLowerCase()));
  if (providers.length <= 1) return pickSingle(request, providers[0] ?? '', inScope);
  return pickMixed(request, providers, inScope);
}

function pickSingle<T extends SchedulableCredential>(
  request: PickRequest<T>,
  provider: string,
  candidates: readonly T[],
): PickOutcome<T> {
  const { strategy, model, now, state } = request;
  const pool = strategy === 'weighted-round-robin' ? candidates.filter((c) => credentialWeight(c) > 0) : candidates;
  const availability = request.ranked
    ? availableRanked(pool, provider, model, now)
    : availableCredentials(pool, provider, model, now);
  if (!availability.ok) return availability;
  const key = roundRobinCursorKey(provider, model);
  return choose(strategy, availability.available, key, state, provider);
}

function choose<T extends SchedulableCredential>(
  strategy: RoutingStrategy,
  available: readonly T[],
  key: string,
  state: SelectionState,
  provider: string,
): PickOutcome<T> {
  const empty: SelectionUpdate = { cursors: {}, weighted: {} };
  if (strategy === 'fill-first') {
    const pick = fillFirstPick(available);
    return { ok: true, credential: pick, provider: provider || pick.provider, update: empty };
  }
  if (strategy === 'weighted-round-robin') {
    const result = smoothWeightedPick(available, state.weighted[key]);
    if (!result) return { ok: false, error: { code: 'auth_unavailable' } };
    return {
      ok: true,
      credential: result.pick,
      provider: provider || result.pick.provider,
      update: { cursors: {}, weighted: { [key]: result.state } },
    };
  }
  const result = roundRobinPick(available, state.cursors[key]);
  return {
    ok: true,
    credential: result.pick,
    provider: provider || result.pick.provider,
    update: { cursors: { [key]: result.cursor }, weighted: {} },
  };
}

/**
 * Several providers serve the model (Go's scheduler pickMixed): the best priority across all
 * providers wins; round-robin gives each provider a share of slots proportional to its ready
 * credentials, so the starting provider rotates per model while each provider keeps its own
 * round-robin cursor; fill-first takes the first provider in request order; weighted
 * round-robin runs over the union of all ready credentials.
 */
function pickMixed<T extends SchedulableCredential>(
  request: PickRequest<T>,
  providers: readonly string[],
  candidates: readonly T[],
): PickOutcome<T> {
  const { strategy, model, now, state } = request;
  const pool = strategy === 'weighted-round-robin' ? candidates.filter((c) => credentialWeight(c) > 0) : candidates;
  const availability = request.ranked
    ? availableRanked(pool, undefined, model, now)
    : availableCredentials(pool, undefined, model, now, true);
  if (!availability.ok) return availability;
  const tier = request.ranked ? availability.available : highestPriorityTier(availability.available);
  const byProvider = providers.map((p) => tier.filter((c) => c.provider.trim().toLowerCase() === p));
  const mixedKey = mixedCursorKey(providers, model);

  if (strategy === 'fill-first') {
    const index = byProvider.findIndex((group) => group.length > 0);
    const pick = fillFirstPick(byProvider[index] ?? []);
    return {
      ok: true,
      credential: pick,
      provider: providers[index] ?? pick.provider,
      update: { cursors: {}, weighted: {} },
    };
  }
  if (strategy === 'weighted-round-robin') {
    const result = choose(strategy, tier, mixedKey, state, '');
    return result.ok ? { ...result, provider: result.credential.provider.trim().toLowerCase() } : result;
  }

  const total = tier.length;
  const slot = wrapCursor(state.cursors[mixedKey]) % total;
  let segmentEnd = 0;
  let providerIndex = 0;
  for (; providerIndex < providers.length; providerIndex++) {
    segmentEnd += byProvider[providerIndex]?.length ?? 0;
    if (slot < segmentEnd) break;
  }
  const provider = providers[providerIndex] ?? '';
  const group = byProvider[providerIndex] ?? [];
  const innerKey = roundRobinCursorKey(provider, model);
  const inner = roundRobinPick(group, state.cursors[innerKey]);
  return {
    ok: true,
    credential: inner.pick,
    provider,
    update: { cursors: { [mixedKey]: slot + 1, [innerKey]: inner.cursor }, weighted: {} },
  };
}

/**
 * The first cursor, in `order` (selectionStateKeys' cursors), that a pick's update moves but
 * whose slot was not taken from the store yet (`advanced`): it must be advanced and the pick
 * repeated, so that concurrent picks never share a slot. Undefined when none is left.
 */
export function cursorToAdvance(
  order: readonly string[],
  update: SelectionUpdate,
  advanced: ReadonlySet<string>,
): string | undefined {
  return order.find((key) => key in update.cursors && !advanced.has(key));
}

/** Applies a pick's update to a selection state (what the Redis script does to its keys). */
export function applySelectionUpdate(state: SelectionState, update: SelectionUpdate): SelectionState {
  return { cursors: { ...state.cursors, ...update.cursors }, weighted: { ...state.weighted, ...update.weighted } };
}
