import type { CatalogSnapshot } from '@cpa/catalog';
import { FAMILY_OWNER, modelAllowed } from '@cpa/catalog';
import type { ProviderFamily } from '@cpa/contracts';

const CREATED = 1_700_000_000;

/**
 * The models a client key may use (its allowed-model patterns; none = every model): a
 * listing shows only what the key could call, as LiteLLM's /models does for a key.
 */
function servedTo(snapshot: CatalogSnapshot, allowed: readonly string[]) {
  const models = snapshot.registry.listModels();
  return allowed.length === 0 ? models : models.filter((m) => modelAllowed(allowed, m.id));
}

/** Claude clients (anthropic-version header or claude-cli user agent) get Anthropic's list shape. */
export function wantsClaudeModelList(headers: Record<string, string | string[] | undefined>): boolean {
  const agent = headers['user-agent'];
  return headers['anthropic-version'] !== undefined || (typeof agent === 'string' && agent.startsWith('claude-cli'));
}

export function openAIModelList(snapshot: CatalogSnapshot, allowed: readonly string[] = []) {
  return {
    object: 'list',
    data: servedTo(snapshot, allowed).map(({ id, providers }) => ({
      id,
      object: 'model',
      created: CREATED,
      owned_by: FAMILY_OWNER[providers[0] as ProviderFamily] ?? providers[0],
    })),
  };
}

export function claudeModelList(snapshot: CatalogSnapshot, allowed: readonly string[] = []) {
  const data = servedTo(snapshot, allowed).map(({ id }) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: new Date(CREATED * 1000).toISOString(),
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

function geminiModel(id: string) {
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    description: id,
    supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
  };
}

export function geminiModelList(snapshot: CatalogSnapshot, allowed: readonly string[] = []) {
  return { models: servedTo(snapshot, allowed).map(({ id }) => geminiModel(id)) };
}

/** GET /v1beta/models/{model}: one model (the `models/` prefix is optional), or undefined. */
export function geminiModelInfo(snapshot: CatalogSnapshot, name: string, allowed: readonly string[] = []) {
  const id = name.replace(/^models\//, '');
  const served = servedTo(snapshot, allowed).find((m) => m.id.toLowerCase() === id.toLowerCase());
  return served ? geminiModel(served.id) : undefined;
}
