/**
 * Session affinity (Go's SessionAffinitySelector) as decisions over bindings read from the
 * store: binding key -> credential id, with a sliding TTL kept by the store.
 */
import { canonicalModelKey } from './model-name';
import type { SessionIds } from './session-id';

export const DEFAULT_AFFINITY_TTL_MS = 60 * 60 * 1000;

/** Scope used for the provider part of the key when several providers are eligible (Go's "mixed"). */
export const MIXED_PROVIDER_SCOPE = 'mixed';

export function affinityScope(providers: readonly string[]): string {
  const distinct = [...new Set(providers.map((p) => p.trim().toLowerCase()).filter((p) => p !== ''))];
  return distinct.length === 1 ? (distinct[0] ?? MIXED_PROVIDER_SCOPE) : MIXED_PROVIDER_SCOPE;
}

/** `provider::session::baseModel`: one binding per provider scope, session and model. */
export function bindingKey(provider: string, sessionId: string, model: string): string {
  return `${provider}::${sessionId}::${canonicalModelKey(model)}`;
}

export interface BindingKeys {
  primary: string;
  /** Present when the session has a distinct first-turn id. */
  fallback?: string;
}

export function bindingKeys(provider: string, ids: SessionIds, model: string): BindingKeys {
  const primary = bindingKey(provider, ids.primary, model);
  if (ids.fallback === undefined || ids.fallback === '' || ids.fallback === ids.primary) return { primary };
  return { primary, fallback: bindingKey(provider, ids.fallback, model) };
}

/**
 * The binding keys of a request's session ids (`RouteRequest.sessionIds`: primary, then the
 * first-turn id) for the eligible providers and base model; undefined without a session id.
 */
export function sessionBindingKeys(
  sessionIds: readonly string[],
  providers: readonly string[],
  model: string,
): BindingKeys | undefined {
  const [primary, fallback] = sessionIds;
  if (!primary) return undefined;
  return bindingKeys(affinityScope(providers), { primary, ...(fallback ? { fallback } : {}) }, model);
}

export interface AffinityInput {
  keys: BindingKeys;
  /** Current binding values read from the store (undefined: no binding). */
  bound: { primary?: string; fallback?: string };
  /**
   * Ids of the available credentials across every priority tier: an established binding
   * outranks priority, so a bound credential is kept even when a higher tier recovers.
   */
  availableIds: readonly string[];
}

export type AffinityDecision =
  /** Reuse the bound credential; refresh the binding TTL on `bind` keys. */
  | { kind: 'hit'; credentialId: string; via: 'primary' | 'fallback'; bind: string[] }
  /**
   * Pick through the strategy (highest available tier), then bind `bind` keys to the pick.
   * `rebind`: the bound credential is unavailable and the binding moves.
   */
  | { kind: 'pick'; reason: 'miss' | 'rebind'; previous?: string; bind: string[] };

function keysToBind(keys: BindingKeys): string[] {
  return keys.fallback ? [keys.primary, keys.fallback] : [keys.primary];
}

/**
 * Go's SessionAffinitySelector.Pick: a primary binding to an available credential is reused;
 * a bound but unavailable credential is replaced through the strategy and the binding moves;
 * without a primary binding, the first-turn (fallback) binding is inherited when its
 * credential is available; otherwise the strategy picks and a new binding is made.
 */
export function decideAffinity(input: AffinityInput): AffinityDecision {
  const available = new Set(input.availableIds);
  const bind = keysToBind(input.keys);
  const { primary, fallback } = input.bound;
  if (primary !== undefined) {
    if (available.has(primary)) return { kind: 'hit', credentialId: primary, via: 'primary', bind };
    return { kind: 'pick', reason: 'rebind', previous: primary, bind };
  }
  if (input.keys.fallback && fallback !== undefined && available.has(fallback)) {
    return { kind: 'hit', credentialId: fallback, via: 'fallback', bind };
  }
  return { kind: 'pick', reason: 'miss', bind };
}

/**
 * How the strategy's pick is bound after a `pick` decision: a rebind replaces the binding
 * only while it still names the credential being replaced; a miss sets it only if absent, so
 * a request of the same session that bound first wins.
 */
export function bindModeAfterPick(
  decision: Extract<AffinityDecision, { kind: 'pick' }>,
): { kind: 'nx' } | { kind: 'replace'; expected: string } {
  return decision.reason === 'rebind' && decision.previous !== undefined
    ? { kind: 'replace', expected: decision.previous }
    : { kind: 'nx' };
}

/** A compare-and-delete: remove `key` only while it still points at `expected`. */
export interface CompareAndDelete {
  key: string;
  expected: string;
}

/**
 * After an attempt (Go's OnResult): success refreshes both keys; a failure that cools the
 * credential removes its bindings with compare-and-delete, so a binding that already moved
 * to another credential survives. Request-shaped failures leave bindings alone.
 */
export function affinityAfterResult(
  keys: BindingKeys,
  credentialId: string,
  result: { success: boolean; requestInvalid?: boolean },
): { touch: string[]; remove: CompareAndDelete[] } {
  const all = keysToBind(keys);
  if (result.success) return { touch: all, remove: [] };
  if (result.requestInvalid) return { touch: [], remove: [] };
  return { touch: [], remove: all.map((key) => ({ key, expected: credentialId })) };
}

/** Go's InvalidateAuth over a snapshot of bindings: every key still bound to the credential. */
export function bindingsOfCredential(
  bindings: Readonly<Record<string, string>>,
  credentialId: string,
): CompareAndDelete[] {
  return Object.entries(bindings)
    .filter(([, id]) => id === credentialId)
    .map(([key]) => ({ key, expected: credentialId }));
}

/** The compare-and-delete transition on a bindings map (what the store does atomically). */
export function applyCompareAndDelete(
  bindings: Readonly<Record<string, string>>,
  ops: readonly CompareAndDelete[],
): Record<string, string> {
  const next = { ...bindings };
  for (const op of ops) if (next[op.key] === op.expected) delete next[op.key];
  return next;
}

/** Binding writes after a decision/pick (sets every key in `bind` to the credential). */
export function applyBind(
  bindings: Readonly<Record<string, string>>,
  keys: readonly string[],
  credentialId: string,
): Record<string, string> {
  const next = { ...bindings };
  for (const key of keys) next[key] = credentialId;
  return next;
}
