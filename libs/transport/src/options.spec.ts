import { describe, expect, it } from 'vitest';
import { DEFAULT_CLUSTER_KEY_PREFIX, isRedisClusterUrl, keyPrefixFor } from '@cpa/contracts';
import { transportKeys } from './keys';
import {
  DEFAULT_BODY_REF_MIN_BYTES,
  DEFAULT_KEY_PREFIX,
  DEFAULT_QUEUE_LIMIT,
  DEFAULT_REDIS_URL,
  transportEnv,
} from './options';

describe('transportEnv', () => {
  it('falls back to the local Redis and the default prefix', () => {
    expect(transportEnv({})).toEqual({
      redisUrl: DEFAULT_REDIS_URL,
      keyPrefix: DEFAULT_KEY_PREFIX,
      queueLimit: DEFAULT_QUEUE_LIMIT,
      bodyRefMinBytes: DEFAULT_BODY_REF_MIN_BYTES,
    });
  });

  it('reads REDIS_URL, TRANSPORT_KEY_PREFIX, TRANSPORT_QUEUE_LIMIT and TRANSPORT_BODY_REF_BYTES', () => {
    expect(
      transportEnv({
        REDIS_URL: 'redis://:pw@redis:6380/2',
        TRANSPORT_KEY_PREFIX: 'x:',
        TRANSPORT_QUEUE_LIMIT: '50',
        TRANSPORT_BODY_REF_BYTES: '0',
      }),
    ).toEqual({
      redisUrl: 'redis://:pw@redis:6380/2',
      keyPrefix: 'x:',
      queueLimit: 50,
      bodyRefMinBytes: 0,
    });
    expect(() => transportEnv({ TRANSPORT_QUEUE_LIMIT: '-1' })).toThrow(/TRANSPORT_QUEUE_LIMIT/);
    expect(() => transportEnv({ TRANSPORT_BODY_REF_BYTES: 'lots' })).toThrow(/TRANSPORT_BODY_REF_BYTES/);
  });

  it('defaults to a hash-tagged prefix on a cluster, and refuses an untagged one there', () => {
    expect(transportEnv({ REDIS_URL: 'redis+cluster://10.0.0.5:7000' }).keyPrefix).toBe(DEFAULT_CLUSTER_KEY_PREFIX);
    expect(
      transportEnv({ REDIS_URL: 'rediss+cluster://:pw@redis:7000', TRANSPORT_KEY_PREFIX: 'prod:{cpa}:' }).keyPrefix,
    ).toBe('prod:{cpa}:');
    expect(() => transportEnv({ REDIS_URL: 'redis+cluster://redis:7000', TRANSPORT_KEY_PREFIX: 'cpa:' })).toThrow(
      /hash tag/,
    );
    expect(() => transportEnv({ REDIS_URL: 'redis+cluster://redis:7000', TRANSPORT_KEY_PREFIX: '{}:' })).toThrow(
      /hash tag/,
    );
    // One server keeps the key names it always had.
    expect(keyPrefixFor('redis://redis:6379')).toBe('cpa:');
    expect(isRedisClusterUrl('redis://redis:6379')).toBe(false);
  });

  it('rejects a malformed URL without echoing it (it may hold a password)', () => {
    expect(() => transportEnv({ REDIS_URL: 'not a url secretpw' })).toThrow(/REDIS_URL/);
    expect(() => transportEnv({ REDIS_URL: 'not a url secretpw' })).not.toThrow(/secretpw/);
  });
});

describe('transportKeys', () => {
  it('derives queue, reply, cancel and event names from the prefix', () => {
    expect(transportKeys.queueOfPattern('p:', 'executor.claude.execute')).toBe('p:work:executor.claude');
    expect(transportKeys.queue('p:', 'scheduler')).toBe('p:work:scheduler');
    expect(transportKeys.delayed('p:', 'scheduler')).toBe('p:delayed:scheduler');
    expect(transportKeys.refused('p:', 'scheduler')).toBe('p:refused:scheduler');
    expect(transportKeys.body('p:', 'pod1.2a')).toBe('p:body:pod1.2a');
    expect(transportKeys.reply('p:', 'pod1')).toBe('p:reply:pod1');
    expect(transportKeys.cancel('p:')).toBe('p:cancel');
    expect(transportKeys.event('p:', 'config.changed')).toBe('p:ev:config.changed');
  });
});
