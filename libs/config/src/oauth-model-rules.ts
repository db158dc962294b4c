import type { OAuthModelAlias } from './config-file';

/**
 * oauth-model-alias and oauth-excluded-models, cleaned the way CLIProxyAPI's
 * SanitizeOAuthModelAlias / NormalizeOAuthExcludedModels clean them, so the importer, the
 * management API and the model registry agree on one shape. Both return undefined when
 * nothing is left (the setting is then removed).
 */

export type OAuthModelAliasMap = Record<string, OAuthModelAlias[]>;
export type OAuthExcludedModelsMap = Record<string, string[]>;

const channelKey = (channel: string) => channel.trim().toLowerCase();

/** Channels lower-cased; entries without name or alias, or naming a model as itself, dropped; one entry per alias. */
export function sanitizeOAuthModelAlias(
  entries: Record<string, readonly Partial<OAuthModelAlias>[] | undefined> | undefined,
): OAuthModelAliasMap | undefined {
  const out: OAuthModelAliasMap = {};
  for (const [rawChannel, aliases] of Object.entries(entries ?? {})) {
    const channel = channelKey(rawChannel);
    if (!channel || !aliases?.length) continue;
    const seen = new Set<string>();
    const clean: OAuthModelAlias[] = [];
    for (const entry of aliases) {
      const name = (entry.name ?? '').trim();
      const alias = (entry.alias ?? '').trim();
      if (!name || !alias || name.toLowerCase() === alias.toLowerCase() || seen.has(alias.toLowerCase())) continue;
      seen.add(alias.toLowerCase());
      clean.push(entry.fork ? { name, alias, fork: true } : { name, alias });
    }
    if (clean.length) out[channel] = [...(out[channel] ?? []), ...clean];
  }
  return Object.keys(out).length ? out : undefined;
}

/** Patterns trimmed, lower-cased and deduplicated (first occurrence kept). */
export function normalizeExcludedModels(models: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of models ?? []) {
    const model = raw.trim().toLowerCase();
    if (model && !out.includes(model)) out.push(model);
  }
  return out;
}

export function normalizeOAuthExcludedModels(
  entries: Record<string, readonly string[] | undefined> | undefined,
): OAuthExcludedModelsMap | undefined {
  const out: OAuthExcludedModelsMap = {};
  for (const [rawChannel, models] of Object.entries(entries ?? {})) {
    const channel = channelKey(rawChannel);
    const clean = normalizeExcludedModels(models);
    if (channel && clean.length) out[channel] = normalizeExcludedModels([...(out[channel] ?? []), ...clean]);
  }
  return Object.keys(out).length ? out : undefined;
}
