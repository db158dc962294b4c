import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAN_MS, RedisFailureLimiter } from './failure-limiter';

let redis: Redis;
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}limiter:`;

beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('RedisFailureLimiter', () => {
  it('shares the attempt count and the ban between admin replicas', async () => {
    const replicaA = new RedisFailureLimiter(redis, prefix);
    const replicaB = new RedisFailureLimiter(redis, prefix);
    expect(await replicaA.countAttempt('10.9.9.9')).toBe(1);
    expect(await replicaB.countAttempt('10.9.9.9')).toBe(2);
    expect(await replicaA.bannedFor('10.9.9.9')).toBe(0);
    await replicaB.ban('10.9.9.9');
    const left = await replicaA.bannedFor('10.9.9.9');
    expect(left).toBeGreaterThan(BAN_MS - 60_000);
    expect(left).toBeLessThanOrEqual(BAN_MS);
    expect(await replicaA.bannedFor('10.9.9.10')).toBe(0);
  });

  it('a success clears the count, and the counter expires with the window', async () => {
    const limiter = new RedisFailureLimiter(redis, prefix);
    for (let i = 0; i < 4; i++) await limiter.countAttempt('10.8.8.8');
    await limiter.reset('10.8.8.8');
    expect(await limiter.countAttempt('10.8.8.8')).toBe(1);
    const ttl = await redis.pttl(`${prefix}mgmt:fail:10.8.8.8`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(BAN_MS);
  });
});
