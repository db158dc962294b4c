import { Injectable } from '@nestjs/common';
import { ClientKeyRepository } from '@cpa/db';

export interface ClientIdentity {
  id: string;
  label: string;
}

export type KeyCheck = { ok: true; client: ClientIdentity } | { ok: false; reason: 'missing' | 'invalid' };

type Headers = Record<string, string | string[] | undefined>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The client key from any of the places CLIProxyAPI accepts it. */
export function extractClientKey(headers: Headers, query: URLSearchParams): string | undefined {
  const authorization = first(headers.authorization);
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1].trim();
  }
  return (
    first(headers['x-api-key'])?.trim() ||
    first(headers['x-goog-api-key'])?.trim() ||
    query.get('key')?.trim() ||
    query.get('auth_token')?.trim() ||
    undefined
  );
}

const POSITIVE_TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

/**
 * Checks client keys against their hashes in Postgres and caches the verdicts, so the hot
 * path does one map lookup. The cache is keyed by the key itself, not its hash: hashing
 * on every request showed in profiles, and the key is already in this process's memory
 * while its request lives (it is never logged). `invalidate()` runs on config.changed.
 * When Postgres cannot be asked, a verdict already known (even an expired one) still
 * stands: an outage must not turn every known client away.
 */
@Injectable()
export class ClientKeyService {
  private readonly cache = new Map<string, { until: number; client: ClientIdentity | null }>();

  constructor(private readonly keys: ClientKeyRepository) {}

  async check(key: string | undefined, now = Date.now()): Promise<KeyCheck> {
    if (!key) return { ok: false, reason: 'missing' };
    let entry = this.cache.get(key);
    if (!entry || entry.until < now) {
      let found;
      try {
        found = await this.keys.findActiveByKey(key);
      } catch (err) {
        if (!entry) throw err;
        return verdictOf(entry.client);
      }
      const client = found ? { id: found.id, label: found.label } : null;
      entry = { until: now + (client ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS), client };
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
      this.cache.set(key, entry);
    }
    return verdictOf(entry.client);
  }

  /** Every verdict is asked again at its next use; until then (and through an outage) it stands. */
  invalidate(): void {
    for (const entry of this.cache.values()) entry.until = 0;
  }
}

function verdictOf(client: ClientIdentity | null): KeyCheck {
  return client ? { ok: true, client } : { ok: false, reason: 'invalid' };
}
