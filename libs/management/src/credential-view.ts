import { redactProxyUrl } from '@cpa/config';
import { CredentialStatuses } from '@cpa/contracts';
import type { CredentialCooldown, CredentialLiveState, CredentialView } from '@cpa/contracts/management-views';

/** The fields of a stored credential the view needs (a CredentialRecord has them all). */
export interface CredentialFacts {
  id: string;
  provider: string;
  kind: string;
  label: string;
  account: string;
  source: string;
  disabled: boolean;
  status: string;
  statusMessage: string;
  lastError: string;
  modelStates: unknown;
  nextRefreshAt: Date | null;
  priority: number;
  weight: number;
  prefix: string;
  baseUrl: string;
  proxyUrl: string;
  attributes: unknown;
}

export interface CredentialUsageToday {
  requests: number;
  tokens: number;
}

/** A number of epoch ms or an ISO string (the mirror stores numbers; older rows may hold strings). */
function epochMs(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? 0 : parsed;
  }
  return 0;
}

/** Why a model is cooling, in an operator's words, from the scheduler's mirrored model state. */
export function cooldownReason(state: Record<string, unknown>): string {
  const quota = (state.quota ?? {}) as { exceeded?: unknown };
  const lastError = (state.lastError ?? {}) as { status?: unknown; message?: unknown };
  const status = typeof lastError.status === 'number' ? lastError.status : undefined;
  if (quota.exceeded === true || status === 429) return 'quota exceeded (429)';
  if (status === 401) return 'unauthorized (401)';
  if (status === 402 || status === 403) return `payment required or forbidden (${status})`;
  if (status === 404) return 'model not found (404)';
  if (status !== undefined) return `upstream error (${status})`;
  const message =
    typeof state.statusMessage === 'string' && state.statusMessage
      ? state.statusMessage
      : typeof lastError.message === 'string'
        ? lastError.message
        : '';
  return message || 'cooling down';
}

/** Models whose cooldown has not ended at `now`, soonest end first. */
export function activeCooldowns(modelStates: unknown, now: number): CredentialCooldown[] {
  if (!modelStates || typeof modelStates !== 'object' || Array.isArray(modelStates)) return [];
  const cooldowns: { model: string; until: number; reason: string }[] = [];
  for (const [model, raw] of Object.entries(modelStates as Record<string, unknown>)) {
    if (!raw || typeof raw !== 'object') continue;
    const state = raw as Record<string, unknown>;
    const quota = (state.quota ?? {}) as { nextRecoverAt?: unknown };
    const until = Math.max(epochMs(state.nextRetryAfter), epochMs(state.cooldownUntil), epochMs(quota.nextRecoverAt));
    if (until > now) cooldowns.push({ model, until, reason: cooldownReason(state) });
  }
  return cooldowns
    .sort((a, b) => a.until - b.until || a.model.localeCompare(b.model))
    .map((c) => ({ ...c, until: new Date(c.until).toISOString() }));
}

/**
 * The one state the console shows: disabled by an operator wins, then a refused refresh
 * (needs a new login), then any model still cooling down, else active.
 */
export function credentialState(
  facts: Pick<CredentialFacts, 'disabled' | 'status'>,
  cooldowns: readonly CredentialCooldown[],
): CredentialLiveState {
  if (facts.disabled) return 'disabled';
  if (facts.status === CredentialStatuses.needsLogin) return 'needs_login';
  if (cooldowns.length > 0) return 'cooling';
  return 'active';
}

/** What the console shows of one credential: GET /v0/management/credentials. */
export function credentialView(
  facts: CredentialFacts,
  usage: CredentialUsageToday | undefined,
  now: number,
): CredentialView {
  const cooldowns = activeCooldowns(facts.modelStates, now);
  return {
    id: facts.id,
    auth_index: facts.id,
    label: facts.label || facts.account || facts.id,
    family: facts.provider,
    kind: facts.kind === 'oauth' ? 'oauth' : 'api-key',
    source: facts.source,
    email: facts.account,
    disabled: facts.disabled,
    status: credentialState(facts, cooldowns),
    cooldowns,
    last_error: facts.lastError || (facts.status === CredentialStatuses.needsLogin ? facts.statusMessage : ''),
    next_refresh_at: facts.nextRefreshAt ? facts.nextRefreshAt.toISOString() : null,
    priority: facts.priority,
    weight: facts.weight,
    prefix: facts.prefix,
    base_url: facts.baseUrl,
    proxy_url: facts.proxyUrl ? redactProxyUrl(facts.proxyUrl) : '',
    token_file: tokenFileOf(facts.attributes),
    requests_today: usage?.requests ?? 0,
    tokens_today: usage?.tokens ?? 0,
  };
}

function tokenFileOf(attributes: unknown): string | null {
  const fileName = (attributes as { fileName?: unknown } | null | undefined)?.fileName;
  return typeof fileName === 'string' && fileName ? fileName : null;
}

/** Sums today's usage rows per credential (tokens = input + output). */
export function usageByCredential(
  rows: readonly { credentialId: string; requests: number; inputTokens: number; outputTokens: number }[],
): Map<string, CredentialUsageToday> {
  const totals = new Map<string, CredentialUsageToday>();
  for (const row of rows) {
    const total = totals.get(row.credentialId) ?? { requests: 0, tokens: 0 };
    total.requests += row.requests;
    total.tokens += row.inputTokens + row.outputTokens;
    totals.set(row.credentialId, total);
  }
  return totals;
}
