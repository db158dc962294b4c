import type { Credential } from '@cpa/db';

/** One credential as CLIProxyAPI's GET /auth-files lists it. */
export interface AuthFile {
  id: string;
  auth_index: string;
  name: string;
  type: string;
  provider: string;
  label: string;
  email: string;
  account: string;
  status: string;
  status_message: string;
  disabled: boolean;
  unavailable: boolean;
  runtime_only: boolean;
  source: string;
  priority: number;
  weight: number;
  prefix: string;
  base_url: string;
  proxy_url: string;
  note?: string;
  /** Requests answered and failed, over the recorded usage. */
  success: number;
  failed: number;
  last_refresh?: string;
  expires_at?: string;
  next_retry_after?: string;
  updated_at: string;
}

/** The columns of a stored credential the list shows. */
export type AuthFileFacts = Pick<
  Credential,
  | 'id'
  | 'provider'
  | 'label'
  | 'account'
  | 'status'
  | 'statusMessage'
  | 'disabled'
  | 'source'
  | 'priority'
  | 'weight'
  | 'prefix'
  | 'baseUrl'
  | 'proxyUrl'
  | 'attributes'
  | 'modelStates'
  | 'lastRefreshAt'
  | 'expiresAt'
  | 'updatedAt'
>;

/** The name GET /auth-files shows for a credential: its token file's name, else its label, account or id. */
export const authFileName = (row: { id: string; label: string; account: string; attributes?: unknown }) => {
  const fileName = (row.attributes as { fileName?: unknown } | null | undefined)?.fileName;
  return (typeof fileName === 'string' && fileName) || row.label || row.account || row.id;
};

/** Latest cooldown end among the mirrored model states still in the future (scheduler's mirror format). */
export function nextRetryAfter(modelStates: unknown, now: number): number | undefined {
  if (!modelStates || typeof modelStates !== 'object') return undefined;
  let latest: number | undefined;
  for (const state of Object.values(modelStates as Record<string, unknown>)) {
    const until = (state as { nextRetryAfter?: unknown; cooldownUntil?: unknown } | null) ?? {};
    for (const candidate of [until.nextRetryAfter, until.cooldownUntil]) {
      const at =
        typeof candidate === 'number' ? candidate : typeof candidate === 'string' ? Date.parse(candidate) : NaN;
      if (at > now && (latest === undefined || at > latest)) latest = at;
    }
  }
  return latest;
}

/** One row of GET /auth-files: the credential, whether it can serve now, and its recorded usage. */
export function authFileView(
  row: AuthFileFacts,
  used: { requests: number; failures: number } | undefined,
  now: number,
): AuthFile {
  const retryAt = nextRetryAfter(row.modelStates, now);
  const { requests, failures } = used ?? { requests: 0, failures: 0 };
  const note = (row.attributes as { note?: unknown } | null)?.note;
  return {
    id: row.id,
    auth_index: row.id,
    name: authFileName(row),
    type: row.provider,
    provider: row.provider,
    label: row.label,
    email: row.account,
    account: row.account,
    status: row.disabled ? 'disabled' : row.status,
    status_message: row.statusMessage,
    disabled: row.disabled,
    unavailable: row.disabled || row.status !== 'active' || retryAt !== undefined,
    runtime_only: false,
    source: row.source,
    priority: row.priority,
    weight: row.weight,
    prefix: row.prefix,
    base_url: row.baseUrl,
    proxy_url: row.proxyUrl,
    ...(typeof note === 'string' && note ? { note } : {}),
    success: requests - failures,
    failed: failures,
    ...(row.lastRefreshAt ? { last_refresh: row.lastRefreshAt.toISOString() } : {}),
    ...(row.expiresAt ? { expires_at: row.expiresAt.toISOString() } : {}),
    ...(retryAt ? { next_retry_after: new Date(retryAt).toISOString() } : {}),
    updated_at: row.updatedAt.toISOString(),
  };
}
