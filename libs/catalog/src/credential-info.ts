import { CredentialStatuses, isProviderFamily } from '@cpa/contracts';
import type { CredentialRecord, ProviderConfig } from '@cpa/db';
import type { CredentialInfo, ModelMapping } from './catalog.types';

/** The columns of a stored credential routing needs (never the secret). */
export type CredentialRow = Pick<
  CredentialRecord,
  | 'id'
  | 'provider'
  | 'kind'
  | 'label'
  | 'prefix'
  | 'priority'
  | 'weight'
  | 'disabled'
  | 'baseUrl'
  | 'proxyUrl'
  | 'version'
> &
  Partial<Pick<CredentialRecord, 'status'>> & { attributes: unknown; providerConfig?: ProviderConfigRow | null };

export type ProviderConfigRow = Pick<ProviderConfig, 'name' | 'baseUrl' | 'prefix' | 'disabled' | 'models' | 'headers'>;

const record = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record(value))) if (typeof v === 'string') out[k] = v;
  return out;
}

function modelMappings(value: unknown): ModelMapping[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) => {
    const item = record(entry);
    const name = typeof item.name === 'string' ? item.name.trim() : '';
    const alias = typeof item.alias === 'string' && item.alias.trim() ? item.alias.trim() : name;
    return name || alias ? [{ name: name || alias, alias }] : [];
  });
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [];

/** Maps a stored credential (and its openai-compatibility entry) to what routing uses. */
export function toCredentialInfo(row: CredentialRow): CredentialInfo | undefined {
  if (!isProviderFamily(row.provider)) return undefined;
  const attributes = record(row.attributes);
  const compat = row.providerConfig ?? undefined;
  const models = modelMappings(attributes.models);
  return {
    id: row.id,
    provider: row.provider,
    kind: row.kind,
    label: row.label,
    prefix: row.prefix || compat?.prefix || '',
    priority: row.priority,
    weight: row.weight,
    // Out of routing (model registry, candidates, bindings) like a switched-off credential,
    // while the management API, which reads Postgres, still lists it with its status.
    disabled: row.disabled || Boolean(compat?.disabled) || row.status === CredentialStatuses.needsLogin,
    baseUrl: row.baseUrl || compat?.baseUrl || '',
    proxyUrl: row.proxyUrl,
    headers: { ...stringRecord(compat?.headers), ...stringRecord(attributes.headers) },
    models: models.length ? models : modelMappings(compat?.models),
    excludedModels: strings(attributes.excludedModels),
    disableCooling: typeof attributes.disableCooling === 'boolean' ? attributes.disableCooling : undefined,
    requestRetry: typeof attributes.requestRetry === 'number' ? attributes.requestRetry : undefined,
    providerName: compat?.name,
    version: row.version,
  };
}
