import type { OnModuleDestroy, Provider } from '@nestjs/common';
import { createRedis, type RedisConnection } from '@cpa/transport';
import { redisReady } from './catalog-store';
import {
  budgetPeriods,
  LIMIT_WINDOW_MS,
  limitRefusal,
  type ClientKeyPolicy,
  type LimitCounters,
  type LimitRefusal,
} from './client-key-policy';

/**
 * Admits a request of one key, or not, atomically across every gateway pod.
 * KEYS: 1 rpm (sorted set of admissions, scored by ms), 2 tpm (hash epoch second -> tokens),
 *       3 day (hash: field `tokens`), 4 month (counter of tokens).
 * ARGV: now ms, rpm limit, tpm limit, daily budget, monthly budget, window ms, member.
 * Drops what left the window, reads the counters, admits when every limit is under (the
 * comparisons of `limitRefusal`) and then records the admission in the rpm window.
 * Returns {admitted, requests in window, rpm pivot time or -1, day tokens, month tokens,
 * second, tokens, second, tokens, ...}.
 */
const ADMIT = `
local now = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local daily = tonumber(ARGV[4])
local monthly = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local pivot = -1
if rpm > 0 and count >= rpm then
  local at = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  pivot = tonumber(at[2])
end
local buckets = {}
local tokens = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local second = tonumber(all[i])
  local n = tonumber(all[i + 1])
  if second * 1000 + window <= now then
    redis.call('HDEL', KEYS[2], all[i])
  else
    tokens = tokens + n
    buckets[#buckets + 1] = second
    buckets[#buckets + 1] = n
  end
end
local day = tonumber(redis.call('HGET', KEYS[3], 'tokens') or '0')
local month = tonumber(redis.call('GET', KEYS[4]) or '0')
local admitted = (rpm == 0 or count < rpm) and (tpm == 0 or tokens < tpm)
  and (daily == 0 or day < daily) and (monthly == 0 or month < monthly)
if admitted and rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[1], window)
end
local result = { admitted and 1 or 0, count, pivot, day, month }
for i = 1, #buckets do result[#result + 1] = buckets[i] end
return result`;

/**
 * Raises counters to at least given values. KEYS: 1 day (hash field `tokens`), 2 month.
 * ARGV: day tokens, month tokens, day TTL s, month TTL s.
 */
const RAISE = `
if tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0') < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'tokens', ARGV[1]) end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1`;

/** Keeps day counters a day past their day (a request finishing just after midnight UTC may still charge it). */
const DAY_TTL_S = 2 * 24 * 3600;
const MONTH_TTL_S = 32 * 24 * 3600;
/** How long a limit check waits for a (re)connecting Redis before it fails (then 503). */
const CONNECT_WAIT_MS = 500;

type RedisWithScripts = RedisConnection & {
  cpaClientKeyAdmit(...args: (string | number)[]): Promise<number[]>;
  cpaClientKeyRaise(...args: (string | number)[]): Promise<unknown>;
};

export interface AdmitResult {
  admitted: boolean;
  /** Why not, when not admitted. */
  refusal: LimitRefusal | null;
  counters: LimitCounters;
}

/** Usage of a completed request, charged to its client key. */
export interface ClientKeyCharge {
  clientKeyId: string;
  tokens: number;
}

/** Tokens a key spent in the current UTC day and month. */
export interface SpentTokens {
  day: number;
  month: number;
}

/**
 * Per-key limits and budgets in Redis, shared by every gateway pod: requests per sliding
 * minute (a sorted set of admissions: exact), tokens per sliding minute (per-second
 * buckets of completed requests' tokens: post-hoc, like LiteLLM's tpm), and tokens per UTC
 * day and month (counters the schedulers increment when a request's usage is recorded,
 * only for keys with a tpm limit or a budget: `hasTokenLimits`).
 * Keys: `<prefix>ck:<key id>:rpm|tpm|day:<YYYY-MM-DD>|month:<YYYY-MM>`; with the
 * transport's prefix (`{cpa}:` on a cluster) one key's four share a slot.
 * Commands are never queued while Redis is away: they fail, and the gateway answers 503.
 */
export class ClientKeyLimits implements OnModuleDestroy {
  private readonly redis: RedisWithScripts;
  private sequence = 0;
  /** One wait for a (re)connecting Redis shared by every caller, rather than a listener each. */
  private connecting?: Promise<void>;

  constructor(
    redisUrl: string,
    private readonly prefix: string,
  ) {
    const redis = createRedis(redisUrl, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      connectionName: 'client-key-limits',
    });
    redis.on('error', () => undefined); // surfaced by the commands that need the connection
    redis.defineCommand('cpaClientKeyAdmit', { numberOfKeys: 4, lua: ADMIT });
    redis.defineCommand('cpaClientKeyRaise', { numberOfKeys: 2, lua: RAISE });
    this.redis = redis as RedisWithScripts;
  }

  keysOf(clientKeyId: string, now: number): { rpm: string; tpm: string; day: string; month: string } {
    const base = `${this.prefix}ck:${clientKeyId}`;
    const periods = budgetPeriods(now);
    return {
      rpm: `${base}:rpm`,
      tpm: `${base}:tpm`,
      day: `${base}:day:${periods.day}`,
      month: `${base}:month:${periods.month}`,
    };
  }

  /** Admits one request of the key under its policy (one script call), counting it in the rpm window. */
  async admit(clientKeyId: string, policy: ClientKeyPolicy, now = Date.now()): Promise<AdmitResult> {
    await this.ready();
    const keys = this.keysOf(clientKeyId, now);
    const member = `${now}:${process.pid}:${(this.sequence = (this.sequence + 1) % 1e9)}:${Math.random().toString(36).slice(2, 8)}`;
    const reply = await this.redis.cpaClientKeyAdmit(
      keys.rpm,
      keys.tpm,
      keys.day,
      keys.month,
      now,
      policy.rpmLimit,
      policy.tpmLimit,
      policy.dailyTokenBudget,
      policy.monthlyTokenBudget,
      LIMIT_WINDOW_MS,
      member,
    );
    const [admitted, requestsInWindow, rpmPivotAt, dayTokens, monthTokens, ...flat] = reply.map(Number);
    const tokenBuckets: [number, number][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) tokenBuckets.push([flat[i]!, flat[i + 1]!]);
    const counters: LimitCounters = {
      requestsInWindow: requestsInWindow!,
      rpmPivotAt: rpmPivotAt!,
      tokenBuckets,
      dayTokens: dayTokens!,
      monthTokens: monthTokens!,
    };
    return { admitted: admitted === 1, refusal: admitted === 1 ? null : limitRefusal(policy, counters, now), counters };
  }

  /**
   * Charges completed requests to their keys (those with a tpm limit or a token budget):
   * tokens to the tpm window and the day and month budgets. One pipeline per batch.
   */
  async charge(charges: readonly ClientKeyCharge[], now = Date.now()): Promise<void> {
    const spent = charges.filter((c) => c.tokens > 0);
    if (spent.length === 0) return;
    await this.ready();
    const second = Math.floor(now / 1000);
    const pipeline = this.redis.pipeline();
    for (const { clientKeyId, tokens } of spent) {
      const keys = this.keysOf(clientKeyId, now);
      pipeline.hincrby(keys.tpm, String(second), tokens);
      pipeline.pexpire(keys.tpm, LIMIT_WINDOW_MS + 1000);
      pipeline.hincrby(keys.day, 'tokens', tokens);
      pipeline.expire(keys.day, DAY_TTL_S);
      pipeline.incrby(keys.month, tokens);
      pipeline.expire(keys.month, MONTH_TTL_S);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0]!;
  }

  /**
   * Raises a key's day and month token counters to at least the given totals (from the
   * usage in Postgres): a key that gets a budget has not been charged in Redis until now,
   * and what it spent earlier in the day and month still counts. Never lowers a counter.
   */
  async raiseSpent(clientKeyId: string, spent: SpentTokens, now = Date.now()): Promise<void> {
    await this.ready();
    const keys = this.keysOf(clientKeyId, now);
    await this.redis.cpaClientKeyRaise(keys.day, keys.month, spent.day, spent.month, DAY_TTL_S, MONTH_TTL_S);
  }

  private ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    this.connecting ??= redisReady(this.redis, CONNECT_WAIT_MS).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}

/** The limits store as a Nest provider (gateway, scheduler and admin each hold one connection). */
export function clientKeyLimitsProvider(redisUrl: string, keyPrefix: string): Provider {
  return { provide: ClientKeyLimits, useFactory: () => new ClientKeyLimits(redisUrl, keyPrefix) };
}
