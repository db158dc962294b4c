import type { CredentialInfo, ServedModel } from './catalog.types';
import { FAMILY_DEFAULT_MODELS } from './family-models';

/** `*` wildcard match, case-insensitive, as CLIProxyAPI's excluded-models. */
export function matchesModelPattern(pattern: string, model: string): boolean {
  const p = pattern.trim().toLowerCase();
  const m = model.trim().toLowerCase();
  if (!p.includes('*')) return p === m;
  const regex = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(m);
}

/** The models one credential serves, aliases applied and exclusions removed (no prefix). */
export function modelsServedBy(credential: CredentialInfo): ServedModel[] {
  const mappings = credential.models.length
    ? credential.models
    : FAMILY_DEFAULT_MODELS[credential.provider].map((name) => ({ name, alias: name }));
  const seen = new Set<string>();
  const served: ServedModel[] = [];
  for (const { name, alias } of mappings) {
    const id = (alias || name).trim();
    const key = id.toLowerCase();
    if (!id || seen.has(key)) continue;
    if (credential.excludedModels.some((pattern) => matchesModelPattern(pattern, id) || matchesModelPattern(pattern, name))) continue;
    seen.add(key);
    served.push({ id, upstreamModel: name || id, credentialId: credential.id, provider: credential.provider });
  }
  return served;
}

/**
 * Model id (as clients name it, prefix included) -> what serves it. Built once per
 * catalog reload so a lookup on the request path is one map access.
 */
export class ModelRegistry {
  private readonly byModel = new Map<string, { id: string; served: ServedModel[] }>();

  constructor(credentials: readonly CredentialInfo[], forceModelPrefix: boolean) {
    for (const credential of credentials) {
      if (credential.disabled) continue;
      for (const model of modelsServedBy(credential)) {
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
