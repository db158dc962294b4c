import type { Redis } from 'ioredis';

export const MAX_FAILURES = 5;
export const BAN_MS = 30 * 60 * 1000;

/** Counts failed management logins per client IP and bans an IP after too many. */
export interface FailureLimiter {
  /** Milliseconds left of a ban, 0 when the IP may try. */
  bannedFor(ip: string): Promise<number>;
  /** Records a failure; returns the ban length when this failure started a ban. */
  recordFailure(ip: string): Promise<number>;
  reset(ip: string): Promise<void>;
}

/**
 * Redis-backed: every admin replica sees the same counters, so spreading guesses over
 * replicas does not multiply the budget. Failures count within a window as long as the ban.
 */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly maxFailures = MAX_FAILURES,
    private readonly banMs = BAN_MS,
  ) {}

  private keys(ip: string) {
    return { fail: `${this.prefix}mgmt:fail:${ip}`, ban: `${this.prefix}mgmt:ban:${ip}` };
  }

  async bannedFor(ip: string): Promise<number> {
    const ttl = await this.redis.pttl(this.keys(ip).ban);
    return ttl > 0 ? ttl : 0;
  }

  async recordFailure(ip: string): Promise<number> {
    const { fail, ban } = this.keys(ip);
    const [[, count]] = (await this.redis.multi().incr(fail).pexpire(fail, this.banMs, 'NX').exec()) as [[Error | null, number]];
    if (count < this.maxFailures) return 0;
    await this.redis.multi().set(ban, '1', 'PX', this.banMs).del(fail).exec();
    return this.banMs;
  }

  async reset(ip: string): Promise<void> {
    await this.redis.del(this.keys(ip).fail);
  }
}

/** Per-process fallback when no Redis is configured: each replica counts on its own. */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();
  private readonly bans = new Map<string, number>();

  constructor(
    private readonly maxFailures = MAX_FAILURES,
    private readonly banMs = BAN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async bannedFor(ip: string): Promise<number> {
    const until = this.bans.get(ip) ?? 0;
    const left = until - this.now();
    if (left <= 0) this.bans.delete(ip);
    return Math.max(0, left);
  }

  async recordFailure(ip: string): Promise<number> {
    const now = this.now();
    const entry = this.failures.get(ip);
    const current = entry && now - entry.since < this.banMs ? entry : { count: 0, since: now };
    current.count++;
    this.failures.set(ip, current);
    if (current.count < this.maxFailures) return 0;
    this.failures.delete(ip);
    this.bans.set(ip, now + this.banMs);
    return this.banMs;
  }

  async reset(ip: string): Promise<void> {
    this.failures.delete(ip);
  }
}
