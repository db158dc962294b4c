/**
 * Model names as clients send them: an optional credential prefix ("teamA/"), the model,
 * and an optional thinking suffix ("(16384)", "(high)"). Routing and cooldown state use
 * the base model; the suffix travels on to the upstream.
 */

export interface ThinkingSuffix {
  /** Name without the suffix (the whole input when there is none). */
  modelName: string;
  hasSuffix: boolean;
  /** Text between the parentheses, uninterpreted ("16384", "high", ""). */
  rawSuffix: string;
}

/** Go's thinking.ParseSuffix: the last "(...)" at the very end of the name. */
export function parseThinkingSuffix(model: string): ThinkingSuffix {
  const open = model.lastIndexOf('(');
  if (open === -1 || !model.endsWith(')')) return { modelName: model, hasSuffix: false, rawSuffix: '' };
  return { modelName: model.slice(0, open), hasSuffix: true, rawSuffix: model.slice(open + 1, -1) };
}

export interface RequestedModel {
  /** The name exactly as the client sent it (trimmed). */
  requested: string;
  /** Text before the first "/", when there is one: a candidate credential prefix. */
  prefix?: string;
  /** Name after the prefix, suffix kept. */
  unprefixed: string;
  /** Name without prefix and thinking suffix: the model state and affinity key. */
  baseModel: string;
  /** Raw thinking suffix, kept for the upstream. */
  thinkingSuffix?: string;
}

/**
 * Splits a requested model into prefix, base model and thinking suffix. Whether the prefix
 * really is a credential prefix is decided per credential (see stripCredentialPrefix):
 * upstream names such as "anthropic/claude-3" contain slashes too.
 */
export function parseRequestedModel(model: string): RequestedModel {
  const requested = model.trim();
  const slash = requested.indexOf('/');
  const prefix = slash > 0 ? requested.slice(0, slash) : undefined;
  const unprefixed = prefix === undefined ? requested : requested.slice(slash + 1);
  const suffix = parseThinkingSuffix(unprefixed);
  return {
    requested,
    ...(prefix !== undefined ? { prefix } : {}),
    unprefixed,
    baseModel: canonicalModelKey(unprefixed),
    ...(suffix.hasSuffix ? { thinkingSuffix: suffix.rawSuffix } : {}),
  };
}

/** Go's canonicalModelKey: trimmed model without its thinking suffix (the key for state and cursors). */
export function canonicalModelKey(model: string): string {
  const trimmed = model.trim();
  if (trimmed === '') return '';
  const name = parseThinkingSuffix(trimmed).modelName.trim();
  return name === '' ? trimmed : name;
}

/**
 * Go's rewriteModelForAuth: a credential with prefix "teamA" serves "teamA/<model>"; the
 * prefix is removed before the name goes upstream. Names without that prefix are unchanged.
 */
export function stripCredentialPrefix(model: string, prefix: string | undefined): string {
  const p = prefix?.trim() ?? '';
  if (p === '' || model === '') return model;
  const needle = `${p}/`;
  return model.startsWith(needle) ? model.slice(needle.length) : model;
}

/**
 * Go's preserveResolvedModelSuffix: an alias resolved to an upstream name keeps the
 * client's thinking suffix, unless the configured upstream name carries its own.
 */
export function preserveSuffix(resolved: string, requested: ThinkingSuffix): string {
  const name = resolved.trim();
  if (name === '') return '';
  if (parseThinkingSuffix(name).hasSuffix) return name;
  if (requested.hasSuffix && requested.rawSuffix !== '') return `${name}(${requested.rawSuffix})`;
  return name;
}

/**
 * Go's matchWildcard (patterns are lower-cased by the caller): exact without '*';
 * otherwise '*' matches any substring: `x*`, `*x`, `*x*`, `a*b*c`.
 */
export function matchWildcard(pattern: string, value: string): boolean {
  if (pattern === '') return false;
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*');
  let rest = value;
  const head = parts[0] ?? '';
  if (head !== '') {
    if (!rest.startsWith(head)) return false;
    rest = rest.slice(head.length);
  }
  const tail = parts[parts.length - 1] ?? '';
  if (tail !== '') {
    if (!rest.endsWith(tail)) return false;
    rest = rest.slice(0, rest.length - tail.length);
  }
  for (let i = 1; i < parts.length - 1; i++) {
    const segment = parts[i] ?? '';
    if (segment === '') continue;
    const idx = rest.indexOf(segment);
    if (idx < 0) return false;
    rest = rest.slice(idx + segment.length);
  }
  return true;
}

/** Go's applyExcludedModels test for one model id: case-insensitive, blanks ignored. */
export function isModelExcluded(modelId: string, excluded: readonly string[] | undefined): boolean {
  if (!excluded || excluded.length === 0) return false;
  const id = modelId.trim().toLowerCase();
  return excluded.some((raw) => {
    const pattern = raw.trim().toLowerCase();
    return pattern !== '' && matchWildcard(pattern, id);
  });
}

/** A configured model of an API-key entry: the client asks for `alias`, upstream gets `name`. */
export interface ModelAlias {
  name: string;
  alias?: string;
}

/** An OAuth model alias (config `oauth-model-alias`): `fork` keeps the original name served too. */
export interface OAuthModelAlias {
  name: string;
  alias: string;
  fork?: boolean;
}

/**
 * Go's resolveModelAliasPoolFromConfigModels: every entry whose alias matches the requested
 * name (then its base name) case-insensitively, as upstream names with the suffix preserved;
 * several entries sharing one alias form a pool. Falls back to an entry whose name matches.
 * Returns [] when the model list says nothing about the name.
 */
export function resolveAliasPool(requestedModel: string, models: readonly ModelAlias[] | undefined): string[] {
  const requested = requestedModel.trim();
  if (requested === '' || !models || models.length === 0) return [];
  const suffix = parseThinkingSuffix(requested);
  const lookups =
    suffix.modelName !== '' && suffix.modelName !== requested ? [requested, suffix.modelName] : [requested];
  for (const candidate of lookups) {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const entry of models) {
      const alias = entry.alias?.trim() ?? '';
      if (alias === '' || !equalFold(alias, candidate)) continue;
      const name = entry.name.trim();
      const resolved = preserveSuffix(name !== '' ? name : candidate, suffix);
      const key = resolved.toLowerCase();
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      out.push(resolved);
    }
    if (out.length > 0) return out;
  }
  for (const candidate of lookups) {
    const match = models.find((entry) => entry.name.trim() !== '' && equalFold(entry.name.trim(), candidate));
    if (match) return [preserveSuffix(match.name.trim(), suffix)];
  }
  return [];
}

/**
 * Go's applyOAuthModelAlias at request time: the alias a client used is mapped back to the
 * upstream name (suffix preserved). Returns undefined when no alias applies.
 */
export function resolveOAuthAlias(
  requestedModel: string,
  aliases: readonly OAuthModelAlias[] | undefined,
): string | undefined {
  const requested = requestedModel.trim();
  if (requested === '' || !aliases || aliases.length === 0) return undefined;
  const suffix = parseThinkingSuffix(requested);
  const lookups =
    suffix.modelName !== '' && suffix.modelName !== requested ? [requested, suffix.modelName] : [requested];
  for (const candidate of lookups) {
    const entry = aliases.find((a) => {
      const name = a.name.trim();
      const alias = a.alias.trim();
      return name !== '' && alias !== '' && !equalFold(name, alias) && equalFold(alias, candidate);
    });
    if (entry) return preserveSuffix(entry.name, suffix);
  }
  return undefined;
}

/** Go's applyOAuthModelAlias at registration: which ids a catalog serves after aliasing. */
export function applyOAuthAliasesToCatalog(
  catalog: readonly string[],
  aliases: readonly OAuthModelAlias[] | undefined,
): string[] {
  const forward = new Map<string, OAuthModelAlias[]>();
  for (const entry of aliases ?? []) {
    const name = entry.name.trim();
    const alias = entry.alias.trim();
    if (name === '' || alias === '' || equalFold(name, alias)) continue;
    const key = name.toLowerCase();
    forward.set(key, [...(forward.get(key) ?? []), entry]);
  }
  if (forward.size === 0) return [...catalog];
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    const key = id.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(id);
  };
  for (const raw of catalog) {
    const id = raw.trim();
    if (id === '') continue;
    const entries = forward.get(id.toLowerCase());
    if (!entries) {
      add(id);
      continue;
    }
    const keepOriginal = entries.some((e) => e.fork === true);
    if (keepOriginal) add(id);
    let addedAlias = false;
    for (const entry of entries) {
      const mapped = entry.alias.trim();
      if (mapped === '' || equalFold(mapped, id) || seen.has(mapped.toLowerCase())) continue;
      add(mapped);
      addedAlias = true;
    }
    if (!keepOriginal && !addedAlias) add(id);
  }
  return out;
}

/**
 * Go's applyModelPrefixes: a prefixed credential serves "<prefix>/<id>" and, unless
 * force-model-prefix is on, the bare id as well.
 */
export function applyModelPrefix(
  ids: readonly string[],
  prefix: string | undefined,
  forceModelPrefix: boolean,
): string[] {
  const p = prefix?.trim() ?? '';
  if (p === '' || ids.length === 0) return [...ids];
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    if (id === '' || seen.has(id)) return;
    seen.add(id);
    out.push(id);
  };
  for (const raw of ids) {
    const id = raw.trim();
    if (id === '') continue;
    if (!forceModelPrefix || p === id) add(id);
    add(`${p}/${id}`);
  }
  return out;
}

export function equalFold(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
