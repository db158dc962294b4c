import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TestRedisServer } from '@cpa/testing';
import { BodyReader } from './body-reader';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}body-reader:`;

describe('BodyReader against the shared Redis', () => {
  let redis: Redis;
  let reader: BodyReader;
  const large = randomBytes(3 * 1024 * 1024 + 7);
  const small = Buffer.from('{"model":"m","messages":[]}');

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    await redis.set(`${prefix}large`, large, 'PX', 60_000);
    await redis.set(`${prefix}small`, small, 'PX', 60_000);
    await redis.set(`${prefix}empty`, '', 'PX', 60_000);
    reader = new BodyReader(redisUrl);
  });

  afterAll(async () => {
    reader.close();
    await redis.del(`${prefix}large`, `${prefix}small`, `${prefix}empty`);
    await redis.quit();
  });

  it('reads values byte for byte, in the order asked, null for a missing key', async () => {
    const keys = ['large', 'missing', 'small', 'empty', 'large'].map((name) => `${prefix}${name}`);
    const [first, missing, second, empty, again] = await reader.read(keys);
    expect(first!.equals(large)).toBe(true);
    expect(missing).toBeNull();
    expect(second!.equals(small)).toBe(true);
    expect(empty!.length).toBe(0);
    expect(again!.equals(large)).toBe(true);
    // Each large value owns its memory: nothing else stays alive because of it.
    expect(first!.buffer.byteLength).toBe(large.length);
    expect(again!.buffer).not.toBe(first!.buffer);
  });

  it('keeps concurrent reads apart on the one connection', async () => {
    const reads = Array.from({ length: 20 }, (_, i) =>
      reader.read([`${prefix}${i % 2 ? 'small' : 'large'}`, `${prefix}small`]),
    );
    const results = await Promise.all(reads);
    results.forEach(([value, other], i) => {
      expect(value!.equals(i % 2 ? small : large)).toBe(true);
      expect(other!.equals(small)).toBe(true);
    });
  });

  it('answers an empty list without touching Redis, and refuses reads once closed', async () => {
    const closed = new BodyReader(redisUrl);
    expect(await closed.read([])).toEqual([]);
    closed.close();
    await expect(closed.read([`${prefix}small`])).rejects.toThrow('body reader closed');
  });
});

describe('BodyReader against a server of its own', () => {
  const password = 'p@ss:word/1';
  let server: TestRedisServer;

  beforeAll(async () => {
    server = await TestRedisServer.start({ password });
  });

  afterAll(async () => {
    await server.kill();
  });

  it('authenticates and selects the database the URL names', async () => {
    const url = `${server.url}/3`;
    const redis = new Redis(url);
    await redis.set('body', 'in db 3');
    const reader = new BodyReader(url);
    try {
      expect((await reader.read(['body']))[0]!.toString()).toBe('in db 3');
      const other = new BodyReader(server.url);
      expect(await other.read(['body'])).toEqual([null]);
      other.close();
    } finally {
      reader.close();
      await redis.quit();
    }
  });

  it('fails with Redis refusing the password, without repeating the password', async () => {
    const reader = new BodyReader(`redis://:wrong-secret@127.0.0.1:${server.port}`);
    const failure = reader.read(['body']);
    await expect(failure).rejects.toThrow(/handshake: WRONGPASS|invalid password/);
    await expect(failure).rejects.not.toThrow(/wrong-secret/);
    reader.close();
  });

  it('fails the reads in flight when Redis goes away, and reads again once it is back', async () => {
    const reader = new BodyReader(server.url, { timeoutMs: 2_000 });
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await redis.set('body', 'before');
      expect((await reader.read(['body']))[0]!.toString()).toBe('before');
      redis.disconnect();
      await server.kill();
      await expect(reader.read(['body'])).rejects.toThrow();
      await server.restart();
      // Restarted empty (no persistence): the connection is new and the key is gone.
      expect(await reader.read(['body'])).toEqual([null]);
    } finally {
      reader.close();
      redis.disconnect();
    }
  });
});
