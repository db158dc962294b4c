import {
  FAMILY_DEFAULT_MODELS,
  NO_OAUTH_MODEL_RULES,
  oauthModelRulesFrom,
  type CatalogSnapshot,
  type CredentialInfo,
  type OAuthModelRules,
} from '@cpa/catalog';
import {
  canonicalModelKey,
  parseRequestedModel,
  rankCandidates,
  selectCandidates,
  type Candidate,
  type CredentialDescriptor,
} from '@cpa/routing';

/** A credential as routing sees it, with the catalog entry it came from. */
export interface RoutedCredential extends CredentialDescriptor {
  info: CredentialInfo;
}

/** Everything about a requested model that only changes with the catalog. */
export interface RouteScope {
  model: string;
  /** Key of model states, cursors and bindings (base model, prefix and suffix removed). */
  stateModel: string;
  /** Provider keys of the enabled candidates (family, or the openai-compatibility entry name), sorted. */
  providers: string[];
  /** Provider keys of every credential that serves the model, disabled ones included. */
  knownProviders: string[];
  /** Every enabled candidate, sorted by id. */
  candidates: Candidate<RoutedCredential>[];
  /** The candidates' credentials, same order. */
  credentials: RoutedCredential[];
  /** The same credentials in pick order (rankCandidates: priority, then id), sorted once per snapshot so a pick only filters. */
  ranked: RoutedCredential[];
  byId: ReadonlyMap<string, Candidate<RoutedCredential>>;
}

/** Cursor scope and executor choice: openai-compat keys rotate per compatibility entry. */
export function providerKey(info: CredentialInfo): string {
  return (info.provider === 'openai-compat' && info.providerName ? info.providerName : info.provider)
    .trim()
    .toLowerCase();
}

/**
 * The credential as candidate selection sees it. An OAuth credential also follows its
 * channel's oauth-excluded-models and oauth-model-alias, as the model registry lists it, so
 * a listed alias is routable.
 */
export function toDescriptor(info: CredentialInfo, rules: OAuthModelRules = NO_OAUTH_MODEL_RULES): RoutedCredential {
  const oauth = info.kind === 'oauth';
  const channelExcluded = oauth ? (rules.excluded[info.provider] ?? []) : [];
  const oauthAliases = oauth ? rules.aliases[info.provider] : undefined;
  return {
    id: info.id,
    provider: providerKey(info),
    priority: info.priority,
    weight: info.weight,
    disabled: info.disabled,
    prefix: info.prefix || undefined,
    ...(info.models.length > 0
      ? { models: info.models.map((m) => ({ name: m.name, alias: m.alias })) }
      : { catalog: FAMILY_DEFAULT_MODELS[info.provider] }),
    excludedModels: channelExcluded.length ? [...info.excludedModels, ...channelExcluded] : info.excludedModels,
    ...(oauthAliases?.length ? { oauthAliases } : {}),
    ...(info.disableCooling !== undefined ? { disableCooling: info.disableCooling } : {}),
    ...(info.requestRetry !== undefined ? { requestRetry: info.requestRetry } : {}),
    info,
  };
}

interface SnapshotScopes {
  descriptors: RoutedCredential[];
  scopes: Map<string, RouteScope>;
}

const MAX_SCOPES_PER_SNAPSHOT = 4096;

/**
 * Route scopes per catalog snapshot: candidate selection (aliases, prefixes, exclusions,
 * thinking suffix) runs once per model and catalog version, not once per request.
 */
export class RouteScopes {
  private readonly bySnapshot = new WeakMap<CatalogSnapshot, SnapshotScopes>();

  scope(snapshot: CatalogSnapshot, model: string): RouteScope {
    let entry = this.bySnapshot.get(snapshot);
    if (!entry) {
      const rules = oauthModelRulesFrom(snapshot.rawSettings);
      entry = { descriptors: snapshot.credentials.map((info) => toDescriptor(info, rules)), scopes: new Map() };
      this.bySnapshot.set(snapshot, entry);
    }
    const cacheKey = model.trim();
    let scope = entry.scopes.get(cacheKey);
    if (!scope) {
      scope = buildScope(entry.descriptors, model, snapshot.settings.forceModelPrefix);
      if (entry.scopes.size >= MAX_SCOPES_PER_SNAPSHOT) entry.scopes.clear();
      entry.scopes.set(cacheKey, scope);
    }
    return scope;
  }
}

function buildScope(descriptors: readonly RoutedCredential[], model: string, forceModelPrefix: boolean): RouteScope {
  // Providers come from every credential that would serve the model if enabled, so an
  // all-disabled pool still names its providers in auth_unavailable.
  const all = selectCandidates(
    descriptors.map((d) => (d.disabled ? { ...d, disabled: false } : d)),
    { model, forceModelPrefix },
  );
  const original = new Map(descriptors.map((d) => [d.id, d]));
  const candidates = all
    .filter((c) => !c.credential.info.disabled)
    .map((c) => ({ ...c, credential: original.get(c.credential.id) ?? c.credential }));
  const providersOf = (list: readonly Candidate<RoutedCredential>[]) =>
    [...new Set(list.map((c) => c.credential.provider))].sort();
  // A pooled alias keys state by pool member; the pick itself looks at the requested base model.
  const plain = candidates.find((c) => !c.pooled);
  const stateModel = plain?.upstream[0]?.stateModel ?? canonicalModelKey(parseRequestedModel(model).unprefixed);
  return {
    model,
    stateModel,
    providers: providersOf(candidates),
    knownProviders: providersOf(all),
    candidates,
    credentials: candidates.map((c) => c.credential),
    ranked: rankCandidates(candidates.map((c) => c.credential)),
    byId: new Map(candidates.map((c) => [c.credential.id, c])),
  };
}
