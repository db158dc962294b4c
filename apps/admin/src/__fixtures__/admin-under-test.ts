import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadEnv } from '@cpa/config';
import { decodeRequest, transportKeys } from '@cpa/transport';
import { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { createAdminApp } from '../app';

/** A built admin application on a throwaway database and Redis prefix, with the events it broadcast. */
export interface AdminUnderTest {
  app: NestFastifyApplication;
  db: TestDatabase;
  /** A plain connection to the test Redis (for assertions on keys). */
  redis: Redis;
  prefix: string;
  /** Every broadcast event, in order. */
  events: { pattern: string; data: unknown }[];
  /** The suite's temporary directory (config.yaml lives there). */
  dir: string;
  close(): Promise<void>;
}

export interface AdminUnderTestOptions {
  /** Names the database and the Redis prefix. */
  name: string;
  /** config.yaml's text, or a function of the suite's directory. */
  configYaml: string | ((dir: string) => string);
  /** Extra environment, given the suite's directory (e.g. AUTH_DIR). */
  env?: (dir: string) => Record<string, string>;
  /** Files to write before the admin starts (token files for auth-dir, ...). */
  prepare?: (dir: string) => void;
}

/** Starts the admin as the admin int specs use it; `close()` leaves no database or key behind. */
export async function startAdminUnderTest(options: AdminUnderTestOptions): Promise<AdminUnderTest> {
  const db = await createTestDatabase(`cpa_${options.name.replace(/-/g, '_')}`);
  const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}${options.name}:`;
  const dir = mkdtempSync(join(tmpdir(), `cpa-${options.name}-`));
  options.prepare?.(dir);
  writeFileSync(
    join(dir, 'config.yaml'),
    typeof options.configYaml === 'string' ? options.configYaml : options.configYaml(dir),
  );
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl);
  const subscriber = new Redis(redisUrl);
  const events: AdminUnderTest['events'] = [];
  await subscriber.psubscribe(transportKeys.event(prefix, '*'));
  subscriber.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
    const request = decodeRequest(message);
    events.push({ pattern: request.pattern, data: request.data });
  });
  const env = loadEnv(
    {
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL,
      TRANSPORT_KEY_PREFIX: prefix,
      CONFIG_FILE: join(dir, 'config.yaml'),
      ...options.env?.(dir),
    },
    dir,
  );
  const app = await createAdminApp(env, { secretBox: db.box, logger: false });
  return {
    app,
    db,
    redis,
    prefix,
    events,
    dir,
    async close() {
      await app.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await subscriber.quit();
      await redis.quit();
      await db.close();
    },
  };
}
