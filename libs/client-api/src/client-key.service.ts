import { Injectable } from '@nestjs/common';
import { Catalog, isExpired, policyOf, type ClientKeyPolicy } from '@cpa/catalog';
import { hashClientKey } from '@cpa/db/light';

export interface ClientIdentity {
  id: string;
  label: string;
  /** Models, limits, budgets and expiry of the key (unlimited for CLIProxyAPI's plain keys). */
  policy: ClientKeyPolicy;
}

/** Why a key is refused: `disabled` and `expired` keys exist but may not be used. */
export type KeyRefusal = 'missing' | 'invalid' | 'disabled' | 'expired';

export type KeyCheck = { ok: true; client: ClientIdentity } | { ok: false; reason: KeyRefusal; expiredAt?: number };

/** A key of the snapshot as cached: who it is, and whether it is switched off. */
interface KnownKey {
  client: ClientIdentity;
  disabled: boolean;
}

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

const MAX_ENTRIES = 10_000;

/** No catalog snapshot has been read yet: the key cannot be judged (503, not 401). */
export class ClientKeysUnavailable extends Error {
  override readonly name = 'ClientKeysUnavailable';

  constructor() {
    super('no catalog snapshot loaded yet');
  }
}

/**
 * Checks client keys against the hashes in the catalog snapshot (no Postgres on the hot
 * path) and caches the verdicts per snapshot generation, so a repeated key costs one map
 * lookup. The cache is keyed by the key itself, not its hash: hashing on every request
 * showed in profiles, and the key is already in this process's memory while its request
 * lives (it is never logged). A new snapshot (a key added, removed or disabled) is seen at
 * the key's next use.
 */
@Injectable()
export class ClientKeyService {
  private readonly cache = new Map<string, { generation: number; known: KnownKey | null }>();

  constructor(private readonly catalog: Catalog) {}

  /** Expiry is judged at every check (`now`), not cached with the verdict. */
  async check(key: string | undefined, now = Date.now()): Promise<KeyCheck> {
    if (!key) return { ok: false, reason: 'missing' };
    const snapshot = this.catalog.snapshot;
    if (snapshot.generation === 0) throw new ClientKeysUnavailable();
    let entry = this.cache.get(key);
    if (!entry || entry.generation !== snapshot.generation) {
      const found = snapshot.clientKeys.get(hashClientKey(key));
      entry = {
        generation: snapshot.generation,
        known: found
          ? { client: { id: found.id, label: found.label, policy: policyOf(found) }, disabled: found.disabled }
          : null,
      };
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
      this.cache.set(key, entry);
    }
    return verdictOf(entry.known, now);
  }

  /** Drops every verdict (they would also be re-judged against the next snapshot). */
  invalidate(): void {
    this.cache.clear();
  }
}

function verdictOf(known: KnownKey | null, now: number): KeyCheck {
  if (!known) return { ok: false, reason: 'invalid' };
  if (known.disabled) return { ok: false, reason: 'disabled' };
  const { policy } = known.client;
  if (isExpired(policy, now)) return { ok: false, reason: 'expired', expiredAt: policy.expiresAt! };
  return { ok: true, client: known.client };
}
