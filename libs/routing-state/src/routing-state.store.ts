import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { CURSOR_WRAP, type CredentialState } from '@cpa/routing';
import { createRedis, type RedisConnection } from '@cpa/transport';
import { RoutingKeys } from './keys';
import { BIND, CAS_VALUE, INCR_CURSOR, INVALIDATE_BINDINGS, PICK_READ, RECORD } from './scripts';

export interface RoutingStateOptions {
  redisUrl: string;
  /** Prefix of every key (the transport's key prefix). */
  keyPrefix: string;
  /** Cursors and weighted credits expire when unused this long (default 24 h). */
  cursorTtlMs?: number;
}
export const ROUTING_STATE_OPTIONS = Symbol('ROUTING_STATE_OPTIONS');

const DEFAULT_CURSOR_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_CAS_ATTEMPTS = 16;
/** Change-log entries kept (one per credential at most, so this only bounds huge pools). */
const MAX_CHANGE_LOG = 100_000;

/** A credential state as stored: JSON plus its version (0: never written). */
export interface VersionedState {
  version: number;
  state: CredentialState | undefined;
}

export interface PickReadRequest {
  /** Cursor names; the first is incremented by the read unless a binding exists. */
  cursors: readonly string[];
  incrementFirstCursor: boolean;
  weighted: readonly string[];
  /** Binding names, primary first. */
  bindings: readonly string[];
  bindingTtlMs: number;
}

export interface PickRead {
  /** Cursor values before this pick. */
  cursors: Record<string, number>;
  /** Names of cursors this read already advanced. */
  advanced: Set<string>;
  /** Raw weighted-state JSON per name (null when absent), for compare-and-set. */
  weighted: Record<string, string | null>;
  bindings: (string | null)[];
}

export type BindMode = { kind: 'nx' } | { kind: 'replace'; expected: string } | { kind: 'touch' };

export interface StateUpdate {
  /** The new state, or undefined when nothing needs writing. */
  next: CredentialState | undefined;
}

type RedisWithScripts = RedisConnection & {
  rsPickRead(
    numKeys: number,
    ...args: (string | number)[]
  ): Promise<
    [
      (string | null)[],
      number,
      number[],
      (string | null)[],
      number,
      number,
      string[],
      (string | null)[],
      (string | null)[],
    ]
  >;
  rsIncrCursor(key: string, wrap: number, ttl: number): Promise<number>;
  rsCas(key: string, expected: string, next: string, ttl: number): Promise<number>;
  rsBind(numKeys: number, ...args: (string | number)[]): Promise<string>;
  rsRecord(numKeys: number, ...args: (string | number)[]): Promise<[number, number, number | string | null]>;
  rsInvalidate(key: string, credentialId: string): Promise<number>;
};

function parseState(json: string | null | undefined): CredentialState | undefined {
  if (!json) return undefined;
  return JSON.parse(json) as CredentialState;
}

/**
 * Shared routing state in Redis: credential states (versioned, optimistic concurrency),
 * round-robin cursors, weighted credits and session bindings. Every method is one script
 * call. States this instance has seen are cached with their version, so a pick transfers
 * only states that changed and a result usually commits on the first try.
 */
@Injectable()
export class RoutingStateStore implements OnModuleDestroy {
  readonly keys: RoutingKeys;
  private readonly redis: RedisWithScripts;
  private readonly cursorTtlMs: number;
  private readonly cache = new Map<string, VersionedState>();
  /** Epoch of the change log this cache reflects (-1: nothing read yet). */
  private epoch = -1;

  constructor(@Inject(ROUTING_STATE_OPTIONS) options: RoutingStateOptions) {
    this.keys = new RoutingKeys(options.keyPrefix);
    this.cursorTtlMs = options.cursorTtlMs ?? DEFAULT_CURSOR_TTL_MS;
    const redis = createRedis(options.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    redis.on('error', () => undefined); // surfaced by the commands that need the connection; it reconnects by itself
    redis.defineCommand('rsPickRead', { lua: PICK_READ });
    redis.defineCommand('rsIncrCursor', { numberOfKeys: 1, lua: INCR_CURSOR });
    redis.defineCommand('rsCas', { numberOfKeys: 1, lua: CAS_VALUE });
    redis.defineCommand('rsBind', { lua: BIND });
    redis.defineCommand('rsRecord', { lua: RECORD });
    redis.defineCommand('rsInvalidate', { numberOfKeys: 1, lua: INVALIDATE_BINDINGS });
    this.redis = redis as RedisWithScripts;
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Reads everything a pick needs (and advances the first cursor) in one call. */
  async readForPick(req: PickReadRequest): Promise<PickRead> {
    const keys = [
      ...req.cursors.map((c) => this.keys.cursor(c)),
      ...req.weighted.map((w) => this.keys.weighted(w)),
      ...req.bindings.map((b) => this.keys.binding(b)),
      ...this.keys.stateKeys,
    ];
    const knownEpoch = this.epoch;
    const [bindings, incremented, cursorValues, weightedValues, epoch, full, ids, versions, states] =
      await this.redis.rsPickRead(
        keys.length,
        ...keys,
        req.cursors.length,
        req.weighted.length,
        req.bindings.length,
        req.incrementFirstCursor ? '1' : '0',
        req.bindingTtlMs,
        CURSOR_WRAP,
        this.cursorTtlMs,
        knownEpoch,
      );
    this.absorbChanges(knownEpoch, Number(epoch), full === 1, ids, versions, states);
    const read: PickRead = { cursors: {}, advanced: new Set(), weighted: {}, bindings };
    req.cursors.forEach((name, i) => (read.cursors[name] = Number(cursorValues[i] ?? 0)));
    if (incremented === 1 && req.cursors[0] !== undefined) read.advanced.add(req.cursors[0]);
    req.weighted.forEach((name, i) => (read.weighted[name] = weightedValues[i] ?? null));
    return read;
  }

  /** Applies the change log: states written since `known` (or all of them) replace the cache. */
  private absorbChanges(
    known: number,
    epoch: number,
    full: boolean,
    ids: string[],
    versions: (string | null)[],
    states: (string | null)[],
  ): void {
    if (full) this.cache.clear();
    ids.forEach((id, i) => {
      const version = Number(versions[i] ?? 0);
      // A newer version already committed by this instance wins over an older log entry.
      if ((this.cache.get(id)?.version ?? -1) >= version) return;
      this.cache.set(id, { version, state: parseState(states[i]) });
    });
    // Concurrent reads may answer out of order: never move the epoch backwards.
    if (full || epoch > known) this.epoch = Math.max(this.epoch, epoch);
  }

  /** Advances a cursor the read did not advance; returns its value before this pick. */
  incrementCursor(name: string): Promise<number> {
    return this.redis.rsIncrCursor(this.keys.cursor(name), CURSOR_WRAP, this.cursorTtlMs).then(Number);
  }

  /**
   * Advances an alias pool's rotation counter; returns its value before this request, so
   * consecutive requests on any replica start the pool at consecutive members.
   */
  nextPoolOffset(name: string): Promise<number> {
    return this.redis.rsIncrCursor(this.keys.poolCursor(name), CURSOR_WRAP, this.cursorTtlMs).then(Number);
  }

  /** Writes weighted credits only if nobody changed them since `expected` was read. */
  async compareAndSetWeighted(name: string, expected: string | null, next: string): Promise<boolean> {
    return (await this.redis.rsCas(this.keys.weighted(name), expected ?? '', next, this.cursorTtlMs)) === 1;
  }

  /** Binds session keys (primary first) to a credential; returns what the primary points at afterwards. */
  bind(
    bindings: readonly string[],
    credentialId: string,
    ttlMs: number,
    mode: BindMode,
    now = Date.now(),
  ): Promise<string> {
    const [primary, ...rest] = bindings.map((b) => this.keys.binding(b));
    if (primary === undefined) return Promise.resolve(credentialId);
    const keys = [primary, this.keys.bindingIndex(credentialId), ...rest];
    return this.redis.rsBind(
      keys.length,
      ...keys,
      credentialId,
      Math.max(1, Math.round(ttlMs)),
      mode.kind,
      mode.kind === 'replace' ? mode.expected : '',
      now,
    );
  }

  /** The binding values, for tests and diagnostics. */
  async bindingsOf(names: readonly string[]): Promise<(string | null)[]> {
    if (names.length === 0) return [];
    return this.redis.mget(...names.map((n) => this.keys.binding(n)));
  }

  /**
   * Applies `transform` to a credential's state with optimistic concurrency: computed on the
   * cached version, committed only if Redis still holds that version, recomputed otherwise.
   * `removeBindings` are compare-and-deleted (only while they point at this credential) in
   * the same call. Returns the state now stored.
   */
  async update(
    credentialId: string,
    transform: (current: CredentialState | undefined) => CredentialState | undefined,
    removeBindings: readonly string[] = [],
  ): Promise<VersionedState & { changed: boolean; removedBindings: number }> {
    const keys = [
      ...this.keys.stateKeys,
      this.keys.bindingIndex(credentialId),
      ...removeBindings.map((b) => this.keys.binding(b)),
    ];
    let cached = this.cache.get(credentialId);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const expected = cached?.version ?? -1;
      const next = cached ? transform(cached.state) : undefined;
      const json = next !== undefined ? JSON.stringify(next) : '';
      const [ok, version, extra] = await this.redis.rsRecord(
        keys.length,
        ...keys,
        credentialId,
        String(expected),
        json,
        MAX_CHANGE_LOG,
      );
      if (ok === 1) {
        const state = next ?? cached?.state;
        const entry = { version: Number(version), state };
        this.cache.set(credentialId, entry);
        return { ...entry, changed: next !== undefined, removedBindings: Number(extra ?? 0) };
      }
      cached = { version: Number(version), state: parseState(typeof extra === 'string' ? extra : null) };
      this.cache.set(credentialId, cached);
    }
    throw new Error(`credential state of ${credentialId} kept changing; update abandoned`);
  }

  /**
   * Credentials whose state was written after `epoch`, oldest first, from the change log
   * (one entry per credential, scored by the epoch of its latest write): the Postgres
   * mirror follows it, so the scheduler itself never writes Postgres.
   */
  async changedSince(epoch: number, limit = 500): Promise<{ ids: string[]; epoch: number }> {
    const flat = await this.redis.zrangebyscore(
      this.keys.changed,
      `(${epoch}`,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const ids: string[] = [];
    let latest = epoch;
    for (let i = 0; i < flat.length; i += 2) {
      ids.push(flat[i]!);
      latest = Math.max(latest, Number(flat[i + 1]));
    }
    return { ids, epoch: latest };
  }

  /** The change log's clock (0 after Redis lost its data). */
  async stateEpoch(): Promise<number> {
    return Number((await this.redis.get(this.keys.epoch)) ?? 0);
  }

  /** Reads states straight from Redis (no cache), e.g. for the Postgres mirror. */
  async readStates(credentialIds: readonly string[]): Promise<Map<string, VersionedState>> {
    const out = new Map<string, VersionedState>();
    if (credentialIds.length === 0) return out;
    const [versions, states] = await Promise.all([
      this.redis.hmget(this.keys.versions, ...credentialIds),
      this.redis.hmget(this.keys.states, ...credentialIds),
    ]);
    credentialIds.forEach((id, i) => out.set(id, { version: Number(versions[i] ?? 0), state: parseState(states[i]) }));
    return out;
  }

  /** The state of a credential as of the latest read or write of this instance. */
  /** True when the cache has read this credential's state (via a pick's change log) and it is empty. */
  isKnownClean(credentialId: string): boolean {
    const entry = this.cache.get(credentialId);
    return this.epoch >= 0 && (entry === undefined || entry.state === undefined);
  }

  cachedState(credentialId: string): CredentialState | undefined {
    return this.cache.get(credentialId)?.state;
  }

  /** Compare-and-deletes every binding of a credential (disabled or removed credentials). */
  async invalidateBindings(credentialId: string): Promise<number> {
    return Number(await this.redis.rsInvalidate(this.keys.bindingIndex(credentialId), credentialId));
  }
}
