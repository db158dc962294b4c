#!/usr/bin/env node
/**
 * npm run login -- [--no-build] <family> [--device] [--no-browser] [--port <n>]
 *
 * Logs an account in and stores it in Postgres (DATABASE_URL, default
 * postgresql://postgres@127.0.0.1:5432/cliproxy): builds, applies migrations, then runs the
 * admin's login command (apps/admin/dist/login.js), which prints the URL to open, waits for
 * the redirect on the family's local callback port (LOGIN_CALLBACK_PORT overrides it) or a
 * pasted redirect URL on stdin (device flows: prints the code and polls), and prints the new
 * credential's auth_index. `--no-build` skips the build (tests, CI).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const skipBuild = args.includes('--no-build');
const rest = args.filter((arg) => arg !== '--no-build');

try {
  if (!skipBuild) {
    const { build } = await import(pathToFileURL(resolve(ROOT, 'tools/stack.mjs')).href);
    build({ quiet: true });
  }
  const { migrate } = await import(pathToFileURL(resolve(ROOT, 'tools/migrate.mjs')).href);
  await migrate(process.env.DATABASE_URL, { log: () => undefined });
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
// stdin stays with the child: the operator may paste the redirect URL there.
const child = spawn(process.execPath, [resolve(ROOT, 'apps/admin/dist/login.js'), ...rest], {
  stdio: 'inherit',
  env: process.env,
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
