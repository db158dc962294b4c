import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { SecretBox } from './crypto/secret-box';
import { PrismaService } from './prisma.service';

/** tools/migrate.mjs is an ES module; this project compiles to CommonJS, hence import(). */
export function loadMigrationRunner(): Promise<
  typeof import('../../../tools/migrate.mjs', { with: { 'resolution-mode': 'import' } })
> {
  return import('../../../tools/migrate.mjs');
}

function adminUrl(): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/cliproxy_test');
  url.pathname = '/postgres';
  return url.toString();
}

/**
 * A database name of our own (not created yet: migrate() creates a missing database), so
 * tests that replace whole tables cannot disturb other suites.
 */
export function throwawayDatabaseUrl(prefix: string): { name: string; url: string } {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** An empty throwaway database, created now (as migrate() would), for a stack that migrates it itself (e2e). */
export async function createEmptyDatabase(
  prefix: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const { name, url } = throwawayDatabaseUrl(prefix);
  const { ensureDatabase } = await loadMigrationRunner();
  await ensureDatabase(url);
  return { name, url, drop: () => dropDatabase(name) };
}

/** A migrated throwaway database with a connected PrismaService and a raw pg client. */
export interface TestDatabase {
  url: string;
  prisma: PrismaService;
  raw: Client;
  box: SecretBox;
  close(): Promise<void>;
}

export async function createTestDatabase(prefix = 'cpa_db_test'): Promise<TestDatabase> {
  const { name, url } = throwawayDatabaseUrl(prefix);
  const { migrate } = await loadMigrationRunner();
  await migrate(url, { log: () => undefined });
  const prisma = new PrismaService(url);
  await prisma.onModuleInit();
  const raw = new Client({ connectionString: url });
  await raw.connect();
  return {
    url,
    prisma,
    raw,
    box: SecretBox.fromEnv(),
    async close() {
      await raw.end();
      await prisma.onModuleDestroy();
      await dropDatabase(name);
    },
  };
}
