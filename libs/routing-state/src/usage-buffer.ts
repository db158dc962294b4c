import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { z } from 'zod';
import { redisReady } from '@cpa/catalog';
import { createRedis, type RedisConnection } from '@cpa/transport';
import type { UsageIncrement, UsageRequestRecord } from '@cpa/db/light';
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

const RequestSchema = z.object({
  key: z.string().min(1),
  requestId: z.string(),
  at: z.number().finite(),
  clientKeyId: z.string(),
  credentialId: z.string(),
  family: z.string(),
  model: z.string(),
  status: z.number().int(),
  latencyMs: z.number().finite().min(0),
  ttfbMs: z.number().finite().min(0).nullable(),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  cachedTokens: z.number().int().min(0),
  reasoningTokens: z.number().int().min(0),
  attempts: z.number().int().min(0),
});
const RequestBatchSchema = z.array(z.unknown());

/**
 * Usage on its way to Postgres: schedulers push one batch (a JSON array of increments) per
 * flush onto the list `<prefix>usage:pending`, and one batch of per-request records onto
 * `<prefix>usage:requests`; the admin drains them into `usage_daily` and
 * `usage_requests` / `usage_hourly`. Postgres being down only makes the list longer. Commands are not queued
 * or re-sent while Redis is away: a failed push stays with the recorder for its next flush.
 */
@Injectable()
export class UsageBuffer implements OnModuleDestroy {
  private readonly redis: RedisConnection;
  private readonly key: string;
  private readonly requestsKey: string;
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
    this.requestsKey = `${options.keyPrefix}usage:requests`;
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

  async pushRequests(records: readonly UsageRequestRecord[]): Promise<void> {
    await redisReady(this.redis);
    await this.redis.rpush(this.requestsKey, JSON.stringify(records));
  }

  /** The oldest `max` batches of request records (flattened); malformed records are counted in `items` only. */
  async peekRequests(max: number): Promise<{ records: UsageRequestRecord[]; items: number }> {
    await redisReady(this.redis);
    const raw = await this.redis.lrange(this.requestsKey, 0, max - 1);
    const records: UsageRequestRecord[] = [];
    for (const item of raw) {
      try {
        const batch = RequestBatchSchema.safeParse(JSON.parse(item));
        if (!batch.success) continue;
        for (const entry of batch.data) {
          const parsed = RequestSchema.safeParse(entry);
          if (parsed.success) records.push(parsed.data);
        }
      } catch {
        // not JSON: dropped with the batch
      }
    }
    return { records, items: raw.length };
  }

  /** Removes the oldest `items` batches of request records (after they were written). */
  async dropRequests(items: number): Promise<void> {
    await redisReady(this.redis);
    if (items > 0) await this.redis.ltrim(this.requestsKey, items, -1);
  }

  async pendingRequests(): Promise<number> {
    await redisReady(this.redis);
    return this.redis.llen(this.requestsKey);
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
