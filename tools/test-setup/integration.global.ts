/**
 * Global setup of the integration and e2e test projects: every run gets a database and
 * a Redis key prefix of its own, so tests never touch the data of a running stack.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export default async function setup(): Promise<() => Promise<void>> {
  const dbName = process.env.TEST_DATABASE_NAME ?? 'cliproxy_test';
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  process.env.DATABASE_URL = url.toString();
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  process.env.TEST_KEY_PREFIX = `test:${randomBytes(4).toString('hex')}:`;
  process.env.CPA_SECRET_KEY ??= randomBytes(32).toString('base64');

  // Creates the run's database when it is missing (kept between runs), then migrates it.
  const { migrate } = await import(resolve(__dirname, '../migrate.mjs'));
  await migrate(process.env.DATABASE_URL);
  // Teardown: every Redis key the run wrote lives under its prefix.
  const { deleteKeys } = await import(resolve(__dirname, '../redis-keys.mjs'));
  return () => deleteKeys(process.env.REDIS_URL!, process.env.TEST_KEY_PREFIX!);
}
