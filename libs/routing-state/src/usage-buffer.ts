import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { z } from 'zod';
import { redisReady } from '@cpa/catalog';
import { createRedis, type RedisConnection } from '@cpa/transport';
import type { UsageIncrement } from '@cpa/db/light';
import { ROUTING_STATE_OPTIONS, type RoutingStateOptions } from './routing-state.store';

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const IncrementSchema = z.object({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  credentialId: z.string(),
  clientKeyId: z.string().optional(),
  model: z.string(),
  requests: z.number().optional(),
  failures: z.number().optional(),
  inputTokens: z.number().optional(),
  outputTokens: z.number().optional(),
  cachedTokens: z.number().optional(),
  reasoningTokens: z.number().optional(),
});
const BatchSchema = z.array(IncrementSchema);

/**
 * Usage counts on their way to Postgres: schedulers push one batch (a JSON array of
 * increments) per flush onto the list `<prefix>usage:pending`; the admin drains it into
 * `usage_daily`. Postgres being down only makes the list longer. Commands are not queued
 * or re-sent while Redis is away: a failed push stays with the recorder for its next flush.
 */
@Injectable()
export class UsageBuffer implements OnModuleDestroy {
  private readonly redis: RedisConnection;
  private readonly key: string;
  private readonly lockKey: string;

  constructor(@Inject(ROUTING_STATE_OPTIONS) options: RoutingStateOptions) {
    this.redis = createRedis(options.redisUrl, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      connectionName: 'usage',
    });
    this.redis.on('error', () => undefined); // failures surface on the commands
    this.key = `${options.keyPrefix}usage:pending`;
    this.lockKey = `${options.keyPrefix}usage:drain-lock`;
  }

  async push(increments: readonly UsageIncrement[]): Promise<void> {
    await redisReady(this.redis);
    await this.redis.rpush(this.key, JSON.stringify(increments));
  }

  /**
   * The oldest `max` batches (flattened) and how many list items they were. Items that
   * are not batches of increments are counted (so they get dropped) but not returned.
   */
  async peek(max: number): Promise<{ increments: UsageIncrement[]; items: number }> {
    await redisReady(this.redis);
    const raw = await this.redis.lrange(this.key, 0, max - 1);
    const increments: UsageIncrement[] = [];
    for (const item of raw) {
      try {
        const parsed = BatchSchema.safeParse(JSON.parse(item));
        if (parsed.success) increments.push(...parsed.data);
      } catch {
        // not JSON: dropped with the batch
      }
    }
    return { increments, items: raw.length };
  }

  /** Removes the oldest `items` batches (after they were written). */
  async drop(items: number): Promise<void> {
    await redisReady(this.redis);
    if (items > 0) await this.redis.ltrim(this.key, items, -1);
  }

  async pending(): Promise<number> {
    await redisReady(this.redis);
    return this.redis.llen(this.key);
  }

  /** One drainer at a time across replicas; the lock expires if its holder dies. */
  async lock(token: string, ttlMs: number): Promise<boolean> {
    await redisReady(this.redis);
    return (await this.redis.set(this.lockKey, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(token: string): Promise<void> {
    await redisReady(this.redis);
    await this.redis.eval(RELEASE_LOCK, 1, this.lockKey, token);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
