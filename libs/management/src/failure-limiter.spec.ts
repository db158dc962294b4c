import { describe, expect, it } from 'vitest';
import { BAN_MS, MemoryFailureLimiter } from './failure-limiter';

describe('MemoryFailureLimiter', () => {
  it('bans an IP for 30 minutes at the fifth failure', async () => {
    let now = 1_000_000;
    const limiter = new MemoryFailureLimiter(5, BAN_MS, () => now);
    for (let i = 0; i < 4; i++) expect(await limiter.recordFailure('1.2.3.4')).toBe(0);
    expect(await limiter.bannedFor('1.2.3.4')).toBe(0);
    expect(await limiter.recordFailure('1.2.3.4')).toBe(BAN_MS);
    expect(await limiter.bannedFor('1.2.3.4')).toBe(30 * 60 * 1000);
    expect(await limiter.bannedFor('5.6.7.8')).toBe(0);
    now += BAN_MS - 1;
    expect(await limiter.bannedFor('1.2.3.4')).toBe(1);
    now += 1;
    expect(await limiter.bannedFor('1.2.3.4')).toBe(0);
  });

  it('forgets failures after a success and after the window', async () => {
    let now = 0;
    const limiter = new MemoryFailureLimiter(5, BAN_MS, () => now);
    for (let i = 0; i < 4; i++) await limiter.recordFailure('ip');
    await limiter.reset('ip');
    for (let i = 0; i < 4; i++) expect(await limiter.recordFailure('ip')).toBe(0);
    now += BAN_MS;
    expect(await limiter.recordFailure('ip')).toBe(0);
  });
});
