#!/usr/bin/env node
/**
 * Runs `prisma generate` (client into libs/db/src/generated/prisma).
 *
 * The Prisma CLI insists on having its schema engine binary before any command, and tries
 * to download it when missing. `generate` never uses it, so when the real engine is absent
 * (offline machines, slim images) we point PRISMA_SCHEMA_ENGINE_BINARY at a harmless
 * executable. A real engine, or an explicit PRISMA_SCHEMA_ENGINE_BINARY, is left alone.
 *
 * Usage: node tools/prisma-generate.mjs [--if-missing]
 *   --if-missing  do nothing when the generated client already exists (used by builds)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const generatedClient = join(root, 'libs/db/src/generated/prisma/client.ts');
const require = createRequire(join(root, 'package.json'));

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where the Prisma CLI would find an already-downloaded schema engine. */
function realSchemaEngineExists() {
  const prismaRequire = createRequire(require.resolve('prisma/package.json'));
  const enginesDir = dirname(prismaRequire.resolve('@prisma/engines/package.json'));
  const inPackage = readdirSync(enginesDir).some(
    (name) => name.startsWith('schema-engine') && isFile(join(enginesDir, name)),
  );
  if (inPackage) return true;
  // Download cache: ~/.cache/prisma/master/<engine hash>/<platform>/schema-engine
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'prisma', 'master');
  if (!existsSync(cache)) return false;
  return readdirSync(cache).some((hash) => {
    const dir = join(cache, hash);
    return (
      statSync(dir).isDirectory() && readdirSync(dir).some((platform) => isFile(join(dir, platform, 'schema-engine')))
    );
  });
}

function noopExecutable() {
  for (const dir of ['/bin', '/usr/bin', ...(process.env.PATH ?? '').split(delimiter)]) {
    if (dir && isFile(join(dir, 'true'))) return join(dir, 'true');
  }
  return process.execPath; // any existing executable satisfies the CLI's presence check
}

export function generate({ ifMissing = false } = {}) {
  if (ifMissing && existsSync(generatedClient)) return 0;
  const env = { ...process.env };
  const explicit = env.PRISMA_SCHEMA_ENGINE_BINARY;
  if (!(explicit && isFile(explicit)) && !realSchemaEngineExists()) {
    env.PRISMA_SCHEMA_ENGINE_BINARY = noopExecutable();
  }
  const cli = require.resolve('prisma/build/index.js');
  const result = spawnSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = generate({ ifMissing: process.argv.includes('--if-missing') });
}
