/**
 * Which credentials may serve a requested model, and under which upstream name.
 */
import {
  applyModelPrefix,
  applyOAuthAliasesToCatalog,
  canonicalModelKey,
  isModelExcluded,
  parseThinkingSuffix,
  resolveAliasPool,
  resolveOAuthAlias,
  stripCredentialPrefix,
  type ModelAlias,
  type OAuthModelAlias,
} from './model-name';
import { isBlockedForModel, type BlockResult } from './model-state';
import type { SchedulableCredential } from './selectors';

/** A credential as routing sees it (plus its state, see SchedulableCredential). */
export interface CredentialDescriptor extends SchedulableCredential {
  /** Model prefix: the credential serves "<prefix>/<model>". */
  prefix?: string;
  /**
   * Configured models of an API-key entry: the credential serves exactly these (alias, or
   * name when there is no alias) and sends `name` upstream. Several entries with one alias
   * form a pool that is tried in turn.
   */
  models?: readonly ModelAlias[];
  /** Model ids the credential serves when `models` is not set; undefined = any model. */
  catalog?: readonly string[];
  /** OAuth model aliases of the credential's channel. */
  oauthAliases?: readonly OAuthModelAlias[];
  /** excluded-models: exact ids or `*` wildcards, case-insensitive. */
  excludedModels?: readonly string[];
  /** Per-credential disable-cooling override. */
  disableCooling?: boolean;
  /** Per-credential request-retry override. */
  requestRetry?: number;
}

export interface CandidateQuery {
  /** Model as the client named it (prefix, alias and thinking suffix allowed). */
  model: string;
  /** Eligible providers; undefined = every provider. */
  providers?: readonly string[];
  /** Credentials already tried for this request (in this round). */
  triedIds?: readonly string[];
  /** Only this credential may serve the request. */
  pinnedId?: string;
  /** force-model-prefix: a prefixed credential serves only "<prefix>/<model>". */
  forceModelPrefix?: boolean;
}

export interface UpstreamModel {
  /** Name sent upstream (prefix removed, alias resolved, thinking suffix kept). */
  upstreamModel: string;
  /** Model-state key for attempts with this upstream model (base model). */
  stateModel: string;
}

export interface Candidate<T extends CredentialDescriptor = CredentialDescriptor> {
  credential: T;
  /** Usually one entry; several for an alias pool. */
  upstream: UpstreamModel[];
  pooled: boolean;
}

/**
 * The model ids a credential is registered for (Go's registerModelsForAuth): configured
 * models or the catalog, minus excluded models, with OAuth aliases and the prefix applied.
 * Undefined when the credential serves any model.
 */
export function servedModelIds(credential: CredentialDescriptor, forceModelPrefix = false): string[] | undefined {
  let ids: string[];
  if (credential.models && credential.models.length > 0) {
    const seen = new Set<string>();
    ids = [];
    for (const m of credential.models) {
      const id = m.alias?.trim() || m.name.trim();
      if (id === '' || seen.has(id.toLowerCase())) continue;
      seen.add(id.toLowerCase());
      ids.push(id);
    }
  } else if (credential.catalog) {
    ids = [...credential.catalog];
  } else {
    return undefined;
  }
  ids = ids.filter((id) => !isModelExcluded(id, credential.excludedModels));
  ids = applyOAuthAliasesToCatalog(ids, credential.oauthAliases);
  return applyModelPrefix(ids, credential.prefix, forceModelPrefix);
}

/**
 * Whether the credential serves the requested model (Go's ClientSupportsModel on the base
 * model, suffix stripped). For a credential without a model list, prefix and exclusions
 * still apply.
 */
export function supportsModel(
  credential: CredentialDescriptor,
  requestedModel: string,
  forceModelPrefix = false,
): boolean {
  const base = canonicalModelKey(requestedModel);
  if (base === '') return false;
  const served = servedModelIds(credential, forceModelPrefix);
  if (served) return served.includes(base);
  const prefix = credential.prefix?.trim() ?? '';
  const unprefixed = stripCredentialPrefix(base, prefix);
  if (prefix !== '' && unprefixed === base && forceModelPrefix && base !== prefix) return false;
  return !isModelExcluded(unprefixed, credential.excludedModels);
}

/**
 * Go's executionModelCandidates: strip the credential prefix, map an OAuth alias back to its
 * upstream name, then resolve the API-key model alias (or pool). The thinking suffix stays.
 */
export function upstreamModelsFor(
  credential: CredentialDescriptor,
  requestedModel: string,
): { upstream: UpstreamModel[]; pooled: boolean } {
  const routeModel = stripCredentialPrefix(requestedModel.trim(), credential.prefix);
  const requested = resolveOAuthAlias(routeModel, credential.oauthAliases) ?? routeModel;
  const pool = resolveAliasPool(requested, credential.models);
  const names = pool.length > 0 ? pool : [requested];
  const pooled = names.length > 1;
  // Go keys state by the route model, or by the pool member when pooled.
  const routeState = canonicalModelKey(routeModel);
  return {
    pooled,
    upstream: names.map((name) => ({ upstreamModel: name, stateModel: pooled ? canonicalModelKey(name) : routeState })),
  };
}

/**
 * The candidate credentials for a request: providers that serve the model, credentials that
 * support it, not disabled, not tried yet, and only the pinned one when one is pinned.
 * Sorted by id (the order every strategy works in).
 */
export function selectCandidates<T extends CredentialDescriptor>(
  credentials: readonly T[],
  query: CandidateQuery,
): Candidate<T>[] {
  const providers = query.providers?.map((p) => p.trim().toLowerCase());
  const tried = new Set(query.triedIds ?? []);
  const pinned = query.pinnedId?.trim() || undefined;
  const out: Candidate<T>[] = [];
  for (const credential of credentials) {
    if (credential.disabled) continue;
    if (providers && !providers.includes(credential.provider.trim().toLowerCase())) continue;
    if (pinned !== undefined && credential.id !== pinned) continue;
    if (tried.has(credential.id)) continue;
    if (!supportsModel(credential, query.model, query.forceModelPrefix ?? false)) continue;
    out.push({ credential, ...upstreamModelsFor(credential, query.model) });
  }
  return out.sort((a, b) => (a.credential.id < b.credential.id ? -1 : a.credential.id > b.credential.id ? 1 : 0));
}

/** Go's rotateStrings: an alias pool starts at a rotating offset (one counter per credential+model). */
export function rotatePool<T>(pool: readonly T[], offset: number): T[] {
  if (pool.length <= 1 || offset <= 0) return [...pool];
  const o = offset % pool.length;
  return [...pool.slice(o), ...pool.slice(0, o)];
}

/** Go's openAICompatModelPoolKey: the counter key for an alias pool's rotation. */
export function poolRotationKey(credential: CredentialDescriptor, requestedModel: string): string {
  const base = parseThinkingSuffix(requestedModel).modelName.trim() || requestedModel.trim();
  return `${credential.id.trim().toLowerCase()}|${credential.provider.trim().toLowerCase()}|${base.toLowerCase()}`;
}

/**
 * Go's filterExecutionModels: the upstream models of a candidate whose model state is not
 * blocked. A candidate left with none is skipped without counting as an attempt.
 */
export function usableUpstreamModels(candidate: Candidate, now: number): UpstreamModel[] {
  return candidate.upstream.filter((u) => !isBlockedForModel(candidate.credential, u.stateModel, now).blocked);
}

/**
 * Go's preparedExecutionModels: the upstream models to try on a picked credential, in
 * order. An alias pool starts at `offset` (the credential's rotation counter for the
 * model, see poolRotationKey) so consecutive requests spread over its members; members
 * whose model state is blocked are left out. Empty: the credential is skipped without
 * counting as an attempt.
 */
export function prepareExecutionModels(candidate: Candidate, offset: number, now: number): UpstreamModel[] {
  const ordered = candidate.pooled ? rotatePool(candidate.upstream, offset) : candidate.upstream;
  return usableUpstreamModels({ ...candidate, upstream: ordered }, now);
}

/**
 * The pool members still to try on a credential after a failure before the first byte
 * (Go's loop over execModels): `remaining` upstream names in their order, limited to
 * members the candidate still has (the catalog may have changed in between) and whose
 * model is not blocked now.
 */
export function remainingPoolModels(candidate: Candidate, remaining: readonly string[], now: number): UpstreamModel[] {
  const byName = new Map(candidate.upstream.map((u) => [u.upstreamModel, u]));
  const members = remaining.flatMap((name) => {
    const member = byName.get(name);
    return member ? [member] : [];
  });
  return usableUpstreamModels({ ...candidate, upstream: members }, now);
}

/**
 * Blocking of a candidate across its upstream models: available while any member is
 * usable; when every member is blocked, the block that ends first (so a retry round can
 * wait for the earliest pool member). For a single upstream model this is
 * isBlockedForModel on its state key.
 */
export function candidateBlock(candidate: Candidate, now: number): BlockResult {
  let earliest: BlockResult | undefined;
  for (const u of candidate.upstream) {
    const block = isBlockedForModel(candidate.credential, u.stateModel, now);
    if (!block.blocked) return block;
    if (!earliest || (block.next !== 0 && (earliest.next === 0 || block.next < earliest.next))) earliest = block;
  }
  return earliest ?? isBlockedForModel(candidate.credential, '', now);
}
