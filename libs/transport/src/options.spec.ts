import { describe, expect, it } from 'vitest';
import { transportKeys } from './keys';
import { DEFAULT_KEY_PREFIX, DEFAULT_REDIS_URL, transportEnv } from './options';

describe('transportEnv', () => {
  it('falls back to the local Redis and the default prefix', () => {
    expect(transportEnv({})).toEqual({ redisUrl: DEFAULT_REDIS_URL, keyPrefix: DEFAULT_KEY_PREFIX });
  });

  it('reads REDIS_URL and TRANSPORT_KEY_PREFIX', () => {
    expect(transportEnv({ REDIS_URL: 'redis://:pw@redis:6380/2', TRANSPORT_KEY_PREFIX: 'x:' })).toEqual({ redisUrl: 'redis://:pw@redis:6380/2', keyPrefix: 'x:' });
  });

  it('rejects a malformed URL without echoing it (it may hold a password)', () => {
    expect(() => transportEnv({ REDIS_URL: 'not a url secretpw' })).toThrow(/REDIS_URL/);
    expect(() => transportEnv({ REDIS_URL: 'not a url secretpw' })).not.toThrow(/secretpw/);
  });
});

describe('transportKeys', () => {
  it('derives queue, reply, cancel and event names from the prefix', () => {
    expect(transportKeys.queueOfPattern('p:', 'executor.claude.execute')).toBe('p:q:executor.claude');
    expect(transportKeys.queue('p:', 'scheduler')).toBe('p:q:scheduler');
    expect(transportKeys.reply('p:', 'pod1')).toBe('p:reply:pod1');
    expect(transportKeys.cancel('p:')).toBe('p:cancel');
    expect(transportKeys.event('p:', 'config.changed')).toBe('p:ev:config.changed');
  });
});
