#!/usr/bin/env node
/**
 * npm run import-auth -- [--no-build] <auth-dir|token-file.json> [...]
 *
 * Imports CLIProxyAPI token files into Postgres (DATABASE_URL, default
 * postgresql://postgres@127.0.0.1:5432/cliproxy): builds, applies migrations, then runs the
 * admin's import (apps/admin/dist/import-auth.js), which prints created / updated / unchanged /
 * error per file and tells running pods to reload. `--no-build` skips the build (tests, CI).
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const skipBuild = args.includes('--no-build');
const paths = args
  .filter((arg) => arg !== '--no-build')
  .map((path) => resolve(process.env.INIT_CWD ?? process.cwd(), path));

try {
  if (!skipBuild) {
    const { build } = await import(pathToFileURL(resolve(ROOT, 'tools/stack.mjs')).href);
    build({ quiet: true });
  }
  if (paths.length) {
    const { migrate } = await import(pathToFileURL(resolve(ROOT, 'tools/migrate.mjs')).href);
    await migrate(process.env.DATABASE_URL, { log: () => undefined });
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
const child = spawnSync(process.execPath, [resolve(ROOT, 'apps/admin/dist/import-auth.js'), ...paths], {
  stdio: 'inherit',
  env: process.env,
});
process.exit(child.status ?? 1);
