import {
  normalizeOAuthExcludedModels,
  sanitizeOAuthModelAlias,
  SettingKeys,
  type OAuthExcludedModelsMap,
  type OAuthModelAliasMap,
} from '@cpa/config';
import type { CredentialInfo, ServedModel } from './catalog.types';
import { FAMILY_DEFAULT_MODELS } from './family-models';

/**
 * The settings oauth-model-alias and oauth-excluded-models: per channel (the provider name as
 * CLIProxyAPI spells it: claude, codex, gemini-cli, vertex, antigravity, ...), they rename and
 * hide models of every OAuth credential of that channel.
 */
export interface OAuthModelRules {
  aliases: OAuthModelAliasMap;
  excluded: OAuthExcludedModelsMap;
}

export const NO_OAUTH_MODEL_RULES: OAuthModelRules = { aliases: {}, excluded: {} };

/** The rules from raw settings rows (cleaned again: a hand-edited row must not break the registry). */
export function oauthModelRulesFrom(settings: Readonly<Record<string, unknown>>): OAuthModelRules {
  const aliases = settings[SettingKeys.oauthModelAlias];
  const excluded = settings[SettingKeys.oauthExcludedModels];
  const isMap = (value: unknown): value is Record<string, never> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const lists = <T>(value: unknown): Record<string, T[]> =>
    isMap(value)
      ? (Object.fromEntries(
          Object.entries(value as Record<string, unknown>).filter(([, v]) => Array.isArray(v)),
        ) as Record<string, T[]>)
      : {};
  return {
    aliases: sanitizeOAuthModelAlias(lists(aliases)) ?? {},
    excluded: normalizeOAuthExcludedModels(lists<string>(excluded)) ?? {},
  };
}

/**
 * CLIProxyAPI's applyOAuthModelAlias: a model with aliases is listed under each alias (sent
 * upstream under its own name) and, only when an entry says `fork`, under its own name too.
 */
function applyAliases(served: ServedModel[], aliases: OAuthModelAliasMap[string] | undefined): ServedModel[] {
  if (!aliases?.length) return served;
  const forward = new Map<string, { alias: string; fork: boolean }[]>();
  for (const { name, alias, fork } of aliases)
    forward.set(name.toLowerCase(), [...(forward.get(name.toLowerCase()) ?? []), { alias, fork: fork === true }]);
  const seen = new Set<string>();
  const out: ServedModel[] = [];
  const push = (model: ServedModel) => {
    if (seen.has(model.id.toLowerCase())) return;
    seen.add(model.id.toLowerCase());
    out.push(model);
  };
  for (const model of served) {
    const entries = forward.get(model.id.toLowerCase());
    if (!entries) {
      push(model);
      continue;
    }
    if (entries.some((e) => e.fork)) push(model);
    for (const { alias } of entries) push({ ...model, id: alias });
  }
  return out;
}

/** `*` wildcard match, case-insensitive, as CLIProxyAPI's excluded-models. */
export function matchesModelPattern(pattern: string, model: string): boolean {
  const p = pattern.trim().toLowerCase();
  const m = model.trim().toLowerCase();
  if (!p.includes('*')) return p === m;
  const regex = new RegExp(
    `^${p
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(m);
}

/**
 * The models one credential serves, aliases applied and exclusions removed (no prefix). An
 * OAuth credential also follows its channel's oauth-excluded-models (before aliasing, on the
 * upstream names, as CLIProxyAPI) and oauth-model-alias.
 */
export function modelsServedBy(
  credential: CredentialInfo,
  rules: OAuthModelRules = NO_OAUTH_MODEL_RULES,
): ServedModel[] {
  const oauth = credential.kind === 'oauth';
  const excluded = oauth
    ? [...credential.excludedModels, ...(rules.excluded[credential.provider] ?? [])]
    : credential.excludedModels;
  const mappings = credential.models.length
    ? credential.models
    : FAMILY_DEFAULT_MODELS[credential.provider].map((name) => ({ name, alias: name }));
  const seen = new Set<string>();
  const served: ServedModel[] = [];
  for (const { name, alias } of mappings) {
    const id = (alias || name).trim();
    const key = id.toLowerCase();
    if (!id || seen.has(key)) continue;
    if (excluded.some((pattern) => matchesModelPattern(pattern, id) || matchesModelPattern(pattern, name))) continue;
    seen.add(key);
    served.push({ id, upstreamModel: name || id, credentialId: credential.id, provider: credential.provider });
  }
  return oauth ? applyAliases(served, rules.aliases[credential.provider]) : served;
}

/**
 * Model id (as clients name it, prefix included) -> what serves it. Built once per
 * catalog reload so a lookup on the request path is one map access.
 */
export class ModelRegistry {
  private readonly byModel = new Map<string, { id: string; served: ServedModel[] }>();

  constructor(
    credentials: readonly CredentialInfo[],
    forceModelPrefix: boolean,
    oauthRules: OAuthModelRules = NO_OAUTH_MODEL_RULES,
  ) {
    for (const credential of credentials) {
      if (credential.disabled) continue;
      for (const model of modelsServedBy(credential, oauthRules)) {
        if (credential.prefix) this.add(`${credential.prefix}/${model.id}`, model);
        if (!credential.prefix || !forceModelPrefix) this.add(model.id, model);
      }
    }
  }

  private add(id: string, model: ServedModel): void {
    const key = id.toLowerCase();
    const entry = this.byModel.get(key);
    if (entry) entry.served.push(model);
    else this.byModel.set(key, { id, served: [model] });
  }

  lookup(modelId: string): readonly ServedModel[] {
    return this.byModel.get(modelId.toLowerCase())?.served ?? [];
  }

  /** Every model id clients may ask for, with the families serving it. */
  listModels(): { id: string; providers: string[] }[] {
    return [...this.byModel.values()]
      .map(({ id, served }) => ({ id, providers: [...new Set(served.map((m) => m.provider))] }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
}
