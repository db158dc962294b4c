#!/usr/bin/env node
/**
 * Applies prisma/migrations to Postgres the way `prisma migrate deploy` does, without the
 * schema engine binary (it cannot be downloaded here and is heavy in containers).
 *
 * Compatible with Prisma: same `_prisma_migrations` table, same checksum (SHA-256 hex of
 * migration.sql), same advisory lock key, so `prisma migrate status/deploy` keep working
 * against a database migrated by this runner and vice versa.
 *
 * Usage: node tools/migrate.mjs   (DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/cliproxy)
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/cliproxy';
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../prisma/migrations/', import.meta.url));

/** The key Prisma's schema engine locks on Postgres; sharing it serializes us with Prisma too. */
const ADVISORY_LOCK_KEY = 72707369;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MigrationError';
  }
}

const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Prisma tolerates line-ending conversions (git autocrlf) when comparing checksums. */
function matchesChecksum(script, checksum) {
  const lf = script.replace(/\r\n/g, '\n');
  return [script, lf, lf.replace(/\n/g, '\r\n')].some((variant) => sha256(variant) === checksum);
}

/** Migration directories in apply order (Prisma sorts by name; names start with a timestamp). */
export async function readMigrations(migrationsDir = DEFAULT_MIGRATIONS_DIR) {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory() && existsSync(join(migrationsDir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const script = await readFile(join(migrationsDir, name, 'migration.sql'), 'utf8');
      return { name, script, checksum: sha256(script) };
    }),
  );
}

function databaseName(databaseUrl) {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  if (!name) throw new MigrationError('DATABASE_URL names no database');
  return name;
}

/** Creates the target database when it does not exist yet (racing runners are fine). */
export async function ensureDatabase(databaseUrl) {
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return false;
  } catch (error) {
    if (error?.code !== '3D000') throw error; // anything but "database does not exist"
  } finally {
    await probe.end().catch(() => undefined);
  }
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${databaseName(databaseUrl).replace(/"/g, '""')}"`);
    return true;
  } catch (error) {
    // 42P04 duplicate_database; 23505 when two CREATE DATABASE race on the catalog index.
    if (error?.code === '42P04' || error?.code === '23505') return false;
    throw error;
  } finally {
    await admin.end();
  }
}

/**
 * Brings the database at `databaseUrl` up to date with the migrations directory.
 * Returns the names of the migrations this call applied (empty when already up to date).
 */
export async function migrate(databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL, options = {}) {
  const {
    migrationsDir = DEFAULT_MIGRATIONS_DIR,
    log = (line) => console.log(line),
    warn = (line) => console.warn(line),
  } = options;
  const migrations = await readMigrations(migrationsDir);
  await ensureDatabase(databaseUrl);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied = [];
  try {
    // Session-level lock: several pods starting at once apply each migration exactly once.
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query(
        `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"
          WHERE rolled_back_at IS NULL ORDER BY started_at`,
      );
      const failed = rows.filter((row) => row.finished_at === null).map((row) => row.migration_name);
      if (failed.length > 0) {
        throw new MigrationError(
          `Migration(s) ${failed.join(', ')} started but never finished; inspect the database, then mark them ` +
            `rolled back (prisma migrate resolve --rolled-back <name>) before migrating again.`,
        );
      }
      const done = new Map(rows.map((row) => [row.migration_name, row.checksum]));
      const local = new Set(migrations.map((m) => m.name));

      const changed = migrations.filter((m) => done.has(m.name) && !matchesChecksum(m.script, done.get(m.name)));
      if (changed.length > 0) {
        throw new MigrationError(
          `Migration(s) ${changed.map((m) => m.name).join(', ')} were modified after being applied ` +
            `(checksum mismatch). Applied migrations must never change: restore the original migration.sql ` +
            `and put the change in a new migration.`,
        );
      }
      // A newer release may already have migrated further during a rolling deploy: not an error.
      const unknown = [...done.keys()].filter((name) => !local.has(name));
      if (unknown.length > 0) warn(`Database has migration(s) unknown to this release: ${unknown.join(', ')}`);

      for (const migration of migrations.filter((m) => !done.has(m.name))) {
        await applyMigration(client, migration);
        applied.push(migration.name);
        log(`Applied migration ${migration.name}`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
  return applied;
}

async function applyMigration(client, { name, script, checksum }) {
  const id = randomUUID();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, clock_timestamp(), 0)`,
      [id, checksum, name],
    );
    await client.query(script);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // The transaction undid the migration, so record the attempt as already rolled back:
    // the next run retries it instead of demanding a manual `migrate resolve`.
    const logs = error instanceof Error ? error.message : String(error);
    await client
      .query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, rolled_back_at, applied_steps_count)
         VALUES ($1, $2, $3, $4, now(), 0)`,
        [id, checksum, name, logs],
      )
      .catch(() => undefined);
    throw new MigrationError(`Migration ${name} failed and was rolled back: ${logs}`);
  }
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  migrate(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL).then(
    (applied) => {
      if (applied.length === 0) console.log('Database is up to date; no migrations to apply');
    },
    (error) => {
      console.error(error instanceof MigrationError ? error.message : `Migration failed: ${error?.message ?? error}`);
      process.exitCode = 1;
    },
  );
}
