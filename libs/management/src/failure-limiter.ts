import type { RedisConnection } from '@cpa/transport';

export const MAX_FAILURES = 5;
export const BAN_MS = 30 * 60 * 1000;

/**
 * Counts management logins per client IP and bans an IP after too many failures. An
 * attempt is counted before its key is verified, so a burst of concurrent guesses gets at
 * most `limit` verifications per window, not one per request.
 */
export interface FailureLimiter {
  /** Attempts in one window (the ban's length) before a failure bans the IP. */
  readonly limit: number;
  /** Milliseconds left of a ban, 0 when the IP may try. */
  bannedFor(ip: string): Promise<number>;
  /** Counts an attempt about to be verified; returns the attempts counted in the window, this one included. */
  countAttempt(ip: string): Promise<number>;
  /** A failed attempt that reached the limit: bans the IP for the ban's length. */
  ban(ip: string): Promise<void>;
  /** A success: the attempts counted so far are forgiven. */
  reset(ip: string): Promise<void>;
}

/**
 * Redis-backed: every admin replica sees the same counters, so spreading guesses over
 * replicas does not multiply the budget. Attempts count within a window as long as the ban.
 */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    readonly limit = MAX_FAILURES,
    private readonly banMs = BAN_MS,
  ) {}

  private keys(ip: string) {
    return { fail: `${this.prefix}mgmt:fail:${ip}`, ban: `${this.prefix}mgmt:ban:${ip}` };
  }

  async bannedFor(ip: string): Promise<number> {
    const ttl = await this.redis.pttl(this.keys(ip).ban);
    return ttl > 0 ? ttl : 0;
  }

  async countAttempt(ip: string): Promise<number> {
    const { fail } = this.keys(ip);
    const [[, count]] = (await this.redis.multi().incr(fail).pexpire(fail, this.banMs, 'NX').exec()) as [
      [Error | null, number],
    ];
    return count;
  }

  async ban(ip: string): Promise<void> {
    const { fail, ban } = this.keys(ip);
    await this.redis.multi().set(ban, '1', 'PX', this.banMs).del(fail).exec();
  }

  async reset(ip: string): Promise<void> {
    await this.redis.del(this.keys(ip).fail);
  }
}

/** Per-process fallback when no Redis is configured: each replica counts on its own. */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly attempts = new Map<string, { count: number; since: number }>();
  private readonly bans = new Map<string, number>();

  constructor(
    readonly limit = MAX_FAILURES,
    private readonly banMs = BAN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async bannedFor(ip: string): Promise<number> {
    const until = this.bans.get(ip) ?? 0;
    const left = until - this.now();
    if (left <= 0) this.bans.delete(ip);
    return Math.max(0, left);
  }

  async countAttempt(ip: string): Promise<number> {
    const now = this.now();
    const entry = this.attempts.get(ip);
    const current = entry && now - entry.since < this.banMs ? entry : { count: 0, since: now };
    current.count++;
    this.attempts.set(ip, current);
    return current.count;
  }

  async ban(ip: string): Promise<void> {
    this.attempts.delete(ip);
    this.bans.set(ip, this.now() + this.banMs);
  }

  async reset(ip: string): Promise<void> {
    this.attempts.delete(ip);
  }
}
