import { Logger, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';

/**
 * The last catalog loaded from Postgres, kept in Redis so that a service starting (or
 * restarting) while Postgres is down still routes with the last known configuration.
 * It holds what the catalog holds: credential columns and settings, never a secret.
 */
export interface CatalogCache {
  save(json: string): Promise<void>;
  load(): Promise<string | null>;
}
export const CATALOG_CACHE = Symbol('CATALOG_CACHE');

export class RedisCatalogCache implements CatalogCache, OnModuleDestroy {
  private readonly logger = new Logger(RedisCatalogCache.name);
  private readonly redis: Redis;
  private readonly key: string;

  constructor(redisUrl: string, keyPrefix: string) {
    // Best effort and never queued: with Redis down a save or load fails at once.
    this.redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.redis.on('error', () => undefined);
    this.key = `${keyPrefix}catalog:snapshot`;
  }

  async save(json: string): Promise<void> {
    try {
      await this.ready();
      await this.redis.set(this.key, json);
    } catch (err) {
      this.logger.warn(`could not keep the catalog in Redis: ${(err as Error).message}`);
    }
  }

  async load(): Promise<string | null> {
    await this.ready();
    return this.redis.get(this.key);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }

  private async ready(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
  }
}

