import { describe, expect, it } from 'vitest';
import { BAN_MS, MemoryFailureLimiter } from './failure-limiter';

describe('MemoryFailureLimiter', () => {
  it('counts attempts per IP and bans an IP for 30 minutes', async () => {
    let now = 1_000_000;
    const limiter = new MemoryFailureLimiter(5, BAN_MS, () => now);
    for (let i = 1; i <= 5; i++) expect(await limiter.countAttempt('1.2.3.4')).toBe(i);
    expect(await limiter.countAttempt('5.6.7.8')).toBe(1);
    expect(await limiter.bannedFor('1.2.3.4')).toBe(0);
    await limiter.ban('1.2.3.4');
    expect(await limiter.bannedFor('1.2.3.4')).toBe(30 * 60 * 1000);
    expect(await limiter.bannedFor('5.6.7.8')).toBe(0);
    // The ban starts a new count for when it ends.
    expect(await limiter.countAttempt('1.2.3.4')).toBe(1);
    now += BAN_MS - 1;
    expect(await limiter.bannedFor('1.2.3.4')).toBe(1);
    now += 1;
    expect(await limiter.bannedFor('1.2.3.4')).toBe(0);
  });

  it('forgets attempts after a success and after the window', async () => {
    let now = 0;
    const limiter = new MemoryFailureLimiter(5, BAN_MS, () => now);
    for (let i = 0; i < 4; i++) await limiter.countAttempt('ip');
    await limiter.reset('ip');
    expect(await limiter.countAttempt('ip')).toBe(1);
    now += BAN_MS;
    expect(await limiter.countAttempt('ip')).toBe(1);
  });
});
