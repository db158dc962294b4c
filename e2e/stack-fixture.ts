/**
 * Boots the built stack as separate processes against a database and Redis key prefix
 * of its own, with a config.yaml pointing every credential at the mock upstream.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from 'pg';
import { stringify } from 'yaml';

import type { ChildProcess } from 'node:child_process';

export interface RunningStack {
  url: string;
  adminUrl: string;
  /** The database and Redis key prefix of this stack, for tests that seed data directly. */
  databaseUrl: string;
  keyPrefix: string;
  services: { name: string; child: ChildProcess }[];
  stop(): Promise<void>;
}

async function freshDatabase(name: string): Promise<string> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/cliproxy_test');
  base.pathname = '/postgres';
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  base.pathname = `/${name}`;
  return base.toString();
}

export async function bootStack(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunningStack> {
  const dir = mkdtempSync(join(tmpdir(), 'cpa-e2e-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const databaseUrl = await freshDatabase(`cliproxy_e2e_${process.pid}`);
  const stackModule = pathToFileURL(resolve(__dirname, '../tools/stack.mjs')).href;
  const { startStack } = (await import(stackModule)) as {
    startStack(o: object): Promise<Omit<RunningStack, 'databaseUrl' | 'keyPrefix'>>;
  };
  const keyPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}e2e:${process.pid}:`;
  const stack = await startStack({
    quiet: !process.env.E2E_VERBOSE,
    skipBuild: !process.env.E2E_BUILD,
    families: ['claude', 'openai-compat', 'gemini', 'codex'],
    env: {
      DATABASE_URL: databaseUrl,
      TRANSPORT_KEY_PREFIX: keyPrefix,
      PORT: '0',
      ADMIN_PORT: '0',
      CONFIG_FILE: configFile,
      LOG_LEVEL: 'warn',
      CATALOG_RELOAD_MS: '0',
      ...env,
    },
  });
  return { ...stack, databaseUrl, keyPrefix };
}
