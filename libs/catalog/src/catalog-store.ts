import { once } from 'node:events';
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { createRedis, type RedisConnection } from '@cpa/transport';
import { parseCatalogDocument, type CatalogDocument } from './catalog-document';

/**
 * Takes the next generation. A counter lost with Redis's data restarts at the current time
 * in milliseconds, above every generation handed out before (fewer than one per ms), so
 * readers still holding an old document accept the first one published after the restart.
 */
const NEXT_GENERATION = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])`;

/** Writes a document unless a newer generation is already stored. */
const WRITE_IF_NEWER = `
local current = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'doc', ARGV[2])
return 1`;

/** How long a command waits for a connection that is (re)connecting, before it fails. */
const CONNECT_WAIT_MS = 1_000;

/**
 * Resolves once `redis` is ready, or rejects after `timeoutMs`: for connections that never
 * queue commands (`enableOfflineQueue: false`), so a caller fails within a bound instead of
 * at once while a connection is still being made, and never waits for a Redis that is down.
 */
export async function redisReady(redis: RedisConnection, timeoutMs = CONNECT_WAIT_MS): Promise<void> {
  if (redis.status === 'ready') return;
  try {
    await once(redis, 'ready', { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    throw new Error('Redis is unreachable');
  }
}

/**
 * The catalog snapshot in Redis: a hash `<prefix>catalog:doc` with `generation` and `doc`
 * (the JSON document), and the counter `<prefix>catalog:generation`. Commands are never
 * queued while Redis is away: they fail at once, and callers keep what they have.
 */
export class CatalogStore implements OnModuleDestroy {
  private readonly logger = new Logger(CatalogStore.name);
  readonly redis: RedisConnection;
  private readonly docKey: string;
  private readonly generationKey: string;

  constructor(redisUrl: string, keyPrefix: string) {
    this.redis = createRedis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'catalog',
    });
    let down = false;
    this.redis.on('error', (err: Error) => {
      if (!down) this.logger.warn(`catalog store: Redis unreachable (${err.message}); keeping the catalog in memory`);
      down = true;
    });
    this.redis.on('ready', () => (down = false));
    this.docKey = `${keyPrefix}catalog:doc`;
    this.generationKey = `${keyPrefix}catalog:generation`;
  }

  /** Runs `listener` each time the connection is (re)established. */
  onReady(listener: () => void): void {
    this.redis.on('ready', listener);
  }

  async nextGeneration(now = Date.now()): Promise<number> {
    await this.connected();
    return Number(await this.redis.eval(NEXT_GENERATION, 1, this.generationKey, String(now)));
  }

  /** True when written, false when a newer document was already there. */
  async write(document: CatalogDocument): Promise<boolean> {
    await this.connected();
    return (
      (await this.redis.eval(WRITE_IF_NEWER, 1, this.docKey, String(document.generation), JSON.stringify(document))) ===
      1
    );
  }

  /** The stored generation, 0 when there is no document. */
  async generation(): Promise<number> {
    await this.connected();
    return Number((await this.redis.hget(this.docKey, 'generation')) ?? 0);
  }

  /** The stored document when it is newer than `after`; undefined otherwise. */
  async readNewer(after: number): Promise<CatalogDocument | undefined> {
    if ((await this.generation()) <= after) return undefined;
    const json = await this.redis.hget(this.docKey, 'doc');
    if (!json) return undefined;
    const document = parseCatalogDocument(json);
    return document.generation > after ? document : undefined;
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }

  private connected(): Promise<void> {
    return redisReady(this.redis);
  }
}
