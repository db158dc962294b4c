/**
 * Global setup of the integration and e2e test projects: every run gets a database and
 * a Redis key prefix of its own, so tests never touch the data of a running stack.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export default async function setup(): Promise<() => Promise<void>> {
  const dbName = process.env.TEST_DATABASE_NAME ?? 'cliproxy_test';
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();

  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  process.env.DATABASE_URL = url.toString();
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  process.env.TEST_KEY_PREFIX = `test:${randomBytes(4).toString('hex')}:`;
  process.env.CPA_SECRET_KEY ??= randomBytes(32).toString('base64');

  const runner = resolve(__dirname, '../migrate.mjs');
  if (existsSync(runner)) {
    const { migrate } = await import(runner);
    await migrate(process.env.DATABASE_URL);
  }
  // Teardown: every Redis key the run wrote lives under its prefix.
  const { deleteKeys } = await import(resolve(__dirname, '../redis-keys.mjs'));
  return () => deleteKeys(process.env.REDIS_URL!, process.env.TEST_KEY_PREFIX!);
}
