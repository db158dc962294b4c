import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TestRedisServer } from '@cpa/testing';
import { BodyConnection, luaScript } from './body-connection';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}body-connection:`;

describe('BodyConnection against the shared Redis', () => {
  let redis: Redis;
  let reader: BodyConnection;
  const large = randomBytes(3 * 1024 * 1024 + 7);
  const small = Buffer.from('{"model":"m","messages":[]}');

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    await redis.set(`${prefix}large`, large, 'PX', 60_000);
    await redis.set(`${prefix}small`, small, 'PX', 60_000);
    await redis.set(`${prefix}empty`, '', 'PX', 60_000);
    reader = new BodyConnection(redisUrl);
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

  it('runs a script with a large body written as it is: EVAL when Redis does not know it, EVALSHA after', async () => {
    // A script no one ran before (its own comment): Redis answers the first EVALSHA with NOSCRIPT.
    const script = luaScript(
      `-- ${randomBytes(8).toString('hex')}\nredis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return tonumber(ARGV[3])`,
    );
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    const key = `${prefix}stored`;
    expect(await reader.evalInteger(script, [key], [large, '60000', '7'])).toBe(7);
    expect((await redis.getBuffer(key))!.equals(large)).toBe(true);
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await reader.evalInteger(script, [key], [small, '60000', '-2'])).toBe(-2);
    expect((await redis.getBuffer(key))!.equals(small)).toBe(true);
    // Reads and scripts share the connection, in order.
    const [read, ran] = await Promise.all([
      reader.read([key]),
      reader.evalInteger(script, [key], [large, '60000', '1']),
    ]);
    expect(read[0]!.equals(small)).toBe(true);
    expect(ran).toBe(1);
    await redis.del(key);
  });

  it("fails a script Redis refuses with Redis's message", async () => {
    await expect(reader.evalInteger(luaScript(`return redis.call('NOSUCHCOMMAND')`), [], [])).rejects.toThrow(
      /Redis refused the script: .*(Unknown Redis command|unknown command)/i,
    );
    await expect(reader.evalInteger(luaScript(`return 'text'`), [], [])).rejects.toThrow(/unexpected reply/);
  });

  it('answers an empty list without touching Redis, and refuses reads once closed', async () => {
    const closed = new BodyConnection(redisUrl);
    expect(await closed.read([])).toEqual([]);
    closed.close();
    await expect(closed.read([`${prefix}small`])).rejects.toThrow('body connection closed');
  });
});

describe('BodyConnection against a server of its own', () => {
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
    const reader = new BodyConnection(url);
    try {
      expect((await reader.read(['body']))[0]!.toString()).toBe('in db 3');
      const other = new BodyConnection(server.url);
      expect(await other.read(['body'])).toEqual([null]);
      other.close();
    } finally {
      reader.close();
      await redis.quit();
    }
  });

  it('fails with Redis refusing the password, without repeating the password', async () => {
    const reader = new BodyConnection(`redis://:wrong-secret@127.0.0.1:${server.port}`);
    const failure = reader.read(['body']);
    await expect(failure).rejects.toThrow(/handshake: WRONGPASS|invalid password/);
    await expect(failure).rejects.not.toThrow(/wrong-secret/);
    reader.close();
  });

  it('fails the reads in flight when Redis goes away, and reads again once it is back', async () => {
    const reader = new BodyConnection(server.url, { timeoutMs: 2_000 });
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
