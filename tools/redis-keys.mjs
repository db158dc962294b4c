/**
 * Deletes every Redis key under a prefix (tests and the benchmark leave nothing behind).
 * Plain ESM so the benchmark, the Vitest global setup and the e2e fixture share it.
 */
import { Redis } from 'ioredis';

/** @param {string} redisUrl @param {string} prefix */
export async function deleteKeys(redisUrl, prefix) {
  if (!prefix) throw new Error('deleteKeys needs a non-empty prefix');
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
