import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabase, loadMigrationRunner, throwawayDatabaseUrl } from './testing';

type Runner = Awaited<ReturnType<typeof loadMigrationRunner>>;
let DEFAULT_MIGRATIONS_DIR: string;
let migrate: Runner['migrate'];
let readMigrations: Runner['readMigrations'];
let MigrationError: Runner['MigrationError'];

beforeAll(async () => {
  ({ DEFAULT_MIGRATIONS_DIR, migrate, readMigrations, MigrationError } = await loadMigrationRunner());
});

const created: string[] = [];
const tempDirs: string[] = [];

function freshDatabase(): string {
  const { name, url } = throwawayDatabaseUrl('cpa_migrate_test');
  created.push(name);
  return url;
}

/** A copy of the real migrations that a test may edit. */
function migrationsCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  tempDirs.push(dir);
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const silent = { log: () => undefined, warn: () => undefined };

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  for (const name of created) await dropDatabase(name);
});

describe('migrate (tools/migrate.mjs)', () => {
  it('creates a missing database, applies every migration and records it like Prisma', async () => {
    const url = freshDatabase();
    const lines: string[] = [];
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThan(0);

    const applied = await migrate(url, { log: (line) => lines.push(line) });

    expect(applied).toEqual(migrations.map((m) => m.name));
    expect(lines).toEqual(migrations.map((m) => `Applied migration ${m.name}`));
    const rows = await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY started_at');
    expect(rows).toHaveLength(migrations.length);
    const first = rows[0]!;
    const sql = readFileSync(join(DEFAULT_MIGRATIONS_DIR, migrations[0]!.name, 'migration.sql'));
    expect(first.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
    expect(first.migration_name).toBe(migrations[0]!.name);
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.finished_at).toBeInstanceOf(Date);
    expect(first.rolled_back_at).toBeNull();
    expect(first.applied_steps_count).toBe(1);

    const columns = await query<{ column_name: string; data_type: string; character_maximum_length: number | null }>(
      url,
      `SELECT column_name, data_type, character_maximum_length FROM information_schema.columns
        WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => [c.column_name, c.data_type, c.character_maximum_length])).toEqual([
      ['id', 'character varying', 36],
      ['checksum', 'character varying', 64],
      ['finished_at', 'timestamp with time zone', null],
      ['migration_name', 'character varying', 255],
      ['logs', 'text', null],
      ['rolled_back_at', 'timestamp with time zone', null],
      ['started_at', 'timestamp with time zone', null],
      ['applied_steps_count', 'integer', null],
    ]);
    const tables = await query<{ tablename: string }>(
      url,
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    );
    expect(tables.map((t) => t.tablename)).toEqual([
      '_prisma_migrations',
      'audit_log',
      'client_api_keys',
      'credentials',
      'oauth_sessions',
      'provider_configs',
      'settings',
      'usage_daily',
      'usage_hourly',
      'usage_requests',
    ]);
    const constraints = await query<{ conname: string }>(
      url,
      `SELECT conname FROM pg_constraint WHERE conrelid = 'credentials'::regclass ORDER BY 1`,
    );
    expect(constraints.map((c) => c.conname)).toEqual(['credentials_pkey', 'credentials_provider_config_id_fkey']);
  });

  it('is idempotent: a second run applies nothing and records nothing', async () => {
    const url = freshDatabase();
    await migrate(url, silent);
    const lines: string[] = [];
    expect(await migrate(url, { log: (line) => lines.push(line) })).toEqual([]);
    expect(lines).toEqual([]);
    const [{ count }] = (await query<{ count: string }>(url, 'SELECT count(*) FROM "_prisma_migrations"')) as [
      { count: string },
    ];
    expect(Number(count)).toBe((await readMigrations()).length);
  });

  it('applies only migrations added since the last run', async () => {
    const url = freshDatabase();
    const dir = migrationsCopy();
    await migrate(url, { ...silent, migrationsDir: dir });
    mkdirSync(join(dir, '29990101000000_add_note'));
    writeFileSync(
      join(dir, '29990101000000_add_note', 'migration.sql'),
      'ALTER TABLE "settings" ADD COLUMN "note" TEXT;\n',
    );

    expect(await migrate(url, { ...silent, migrationsDir: dir })).toEqual(['29990101000000_add_note']);
    const columns = await query(
      url,
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'settings' AND column_name = 'note'`,
    );
    expect(columns).toHaveLength(1);
  });

  it('refuses to run when an applied migration was modified', async () => {
    const url = freshDatabase();
    const dir = migrationsCopy();
    await migrate(url, { ...silent, migrationsDir: dir });
    const [first] = await readMigrations(dir);
    writeFileSync(join(dir, first!.name, 'migration.sql'), `${first!.script}\n-- edited after the fact\n`);
    mkdirSync(join(dir, '29990101000000_later'));
    writeFileSync(join(dir, '29990101000000_later', 'migration.sql'), 'CREATE TABLE "later" ("id" INTEGER);\n');

    const run = migrate(url, { ...silent, migrationsDir: dir });
    await expect(run).rejects.toThrow(MigrationError);
    await expect(migrate(url, { ...silent, migrationsDir: dir })).rejects.toThrow(
      new RegExp(`${first!.name}.*modified`),
    );
    expect(await query(url, `SELECT 1 FROM pg_tables WHERE tablename = 'later'`)).toHaveLength(0);
  });

  it('accepts a migration whose only change is CRLF line endings', async () => {
    const url = freshDatabase();
    const dir = migrationsCopy();
    await migrate(url, { ...silent, migrationsDir: dir });
    const [first] = await readMigrations(dir);
    writeFileSync(join(dir, first!.name, 'migration.sql'), first!.script.replace(/\n/g, '\r\n'));
    expect(await migrate(url, { ...silent, migrationsDir: dir })).toEqual([]);
  });

  it('rolls a failing migration back, records the attempt, and retries it once fixed', async () => {
    const url = freshDatabase();
    const dir = migrationsCopy();
    await migrate(url, { ...silent, migrationsDir: dir });
    const broken = join(dir, '29990101000000_broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'migration.sql'), 'CREATE TABLE "half" ("id" INTEGER);\nSELECT no_such_function();\n');

    await expect(migrate(url, { ...silent, migrationsDir: dir })).rejects.toThrow(/29990101000000_broken failed/);
    expect(await query(url, `SELECT 1 FROM pg_tables WHERE tablename = 'half'`)).toHaveLength(0);
    const attempts = await query(
      url,
      `SELECT * FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`,
    );
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.finished_at).toBeNull();
    expect(attempts[0]!.rolled_back_at).toBeInstanceOf(Date);
    expect(String(attempts[0]!.logs)).toContain('no_such_function');

    writeFileSync(join(broken, 'migration.sql'), 'CREATE TABLE "half" ("id" INTEGER);\n');
    expect(await migrate(url, { ...silent, migrationsDir: dir })).toEqual(['29990101000000_broken']);
    expect(await query(url, `SELECT 1 FROM pg_tables WHERE tablename = 'half'`)).toHaveLength(1);
  });

  it('lets concurrent runners (pods starting together) apply each migration exactly once', async () => {
    const url = freshDatabase();
    const results = await Promise.all(Array.from({ length: 6 }, () => migrate(url, silent)));
    const names = (await readMigrations()).map((m) => m.name);

    expect(results.flat().sort()).toEqual([...names].sort());
    expect(results.filter((applied) => applied.length > 0)).toHaveLength(1);
    const rows = await query<{ migration_name: string }>(url, 'SELECT migration_name FROM "_prisma_migrations"');
    expect(rows.map((r) => r.migration_name).sort()).toEqual([...names].sort());
  });
});
