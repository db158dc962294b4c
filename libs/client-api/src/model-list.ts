import type { CatalogSnapshot } from '@cpa/catalog';
import { FAMILY_OWNER } from '@cpa/catalog';
import type { ProviderFamily } from '@cpa/contracts';

const CREATED = 1_700_000_000;

/** Claude clients (anthropic-version header or claude-cli user agent) get Anthropic's list shape. */
export function wantsClaudeModelList(headers: Record<string, string | string[] | undefined>): boolean {
  const agent = headers['user-agent'];
  return headers['anthropic-version'] !== undefined || (typeof agent === 'string' && agent.startsWith('claude-cli'));
}

export function openAIModelList(snapshot: CatalogSnapshot) {
  return {
    object: 'list',
    data: snapshot.registry.listModels().map(({ id, providers }) => ({
      id,
      object: 'model',
      created: CREATED,
      owned_by: FAMILY_OWNER[providers[0] as ProviderFamily] ?? providers[0],
    })),
  };
}

export function claudeModelList(snapshot: CatalogSnapshot) {
  const data = snapshot.registry.listModels().map(({ id }) => ({
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

export function geminiModelList(snapshot: CatalogSnapshot) {
  return { models: snapshot.registry.listModels().map(({ id }) => geminiModel(id)) };
}

/** GET /v1beta/models/{model}: one model (the `models/` prefix is optional), or undefined. */
export function geminiModelInfo(snapshot: CatalogSnapshot, name: string) {
  const id = name.replace(/^models\//, '');
  const served = snapshot.registry.listModels().find((m) => m.id.toLowerCase() === id.toLowerCase());
  return served ? geminiModel(served.id) : undefined;
}
