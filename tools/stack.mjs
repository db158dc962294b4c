#!/usr/bin/env node
/**
 * Starts the whole stack locally: builds, applies migrations, then runs admin, scheduler,
 * one executor per provider family, refresh-worker and gateway as separate processes.
 * Prints one line when everything is ready; SIGINT/SIGTERM stop every child cleanly.
 *
 * Also importable: `startStack(options)` is what the e2e tests and the benchmark use.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FAMILIES = ['claude', 'gemini', 'codex', 'openai-compat'];

function defaults(env) {
  return {
    DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/cliproxy',
    REDIS_URL: 'redis://127.0.0.1:6379',
    PORT: '8317',
    ADMIN_PORT: '8318',
    ...env,
  };
}

export function build({ quiet = false } = {}) {
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed${quiet ? `:\n${result.stdout}\n${result.stderr}` : ''}`);
}

function startService(name, script, env, { quiet, onLine }) {
  // CPA_NODE_ARGS passes flags NODE_OPTIONS refuses (e.g. --cpu-prof) to every service.
  const nodeArgs = (env.CPA_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, resolve(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = new Promise((resolveReady, rejectReady) => {
    let buffered = '';
    const onData = (stream) => (chunk) => {
      buffered += chunk.toString();
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(`READY ${name} `)) resolveReady(Number(/port=(\d+)/.exec(line)?.[1]));
        else if (!quiet) stream.write(`[${name}] ${line}\n`);
        onLine?.(name, line);
      }
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    child.once('exit', (code, signal) => rejectReady(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`)));
  });
  return { name, child, ready };
}

function stopChild({ child }, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/**
 * @param {{ env?: Record<string,string>, quiet?: boolean, skipBuild?: boolean, families?: string[], refreshWorker?: boolean, onLine?: (name: string, line: string) => void }} options
 */
export async function startStack(options = {}) {
  const env = defaults({ ...process.env, ...options.env });
  const quiet = options.quiet ?? false;
  if (!options.skipBuild) build({ quiet });
  const { migrate } = await import(pathToFileURL(resolve(ROOT, 'tools/migrate.mjs')).href);
  await migrate(env.DATABASE_URL, { quiet });

  const services = [];
  const stop = async () => {
    // Gateway first so no new work enters, then the rest drain what is in flight.
    const gateway = services.filter((s) => s.name === 'gateway');
    await Promise.all(gateway.map((s) => stopChild(s, 15_000)));
    await Promise.all(services.filter((s) => s.name !== 'gateway').map((s) => stopChild(s, 15_000)));
  };
  const launch = (name, script, extra = {}) => {
    const service = startService(name, script, { ...env, HEALTH_PORT: '0', ...extra }, { quiet, onLine: options.onLine });
    services.push(service);
    return service.ready;
  };
  try {
    // Admin first: it imports config.yaml, so every other service loads a complete catalog.
    const adminPort = await launch('admin', 'apps/admin/dist/main.js');
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const families = options.families ?? FAMILIES;
    await Promise.all([
      launch('scheduler', 'apps/scheduler/dist/main.js'),
      ...families.map((family) => launch(`executor-${family}`, 'apps/executor/dist/main.js', { PROVIDER_FAMILY: family })),
      ...(options.refreshWorker === false ? [] : [launch('refresh-worker', 'apps/refresh-worker/dist/main.js')]),
    ]);
    const gatewayPort = await launch('gateway', 'apps/gateway/dist/main.js', { ADMIN_URL: adminUrl });
    return { url: `http://127.0.0.1:${gatewayPort}`, adminUrl, services, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main() {
  const stack = await startStack();
  console.log(`cliproxy ready: gateway ${stack.url}, admin ${stack.adminUrl} (${stack.services.length} processes)`);
  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping ${stack.services.length} processes...`);
    await stack.stop();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  for (const service of stack.services) {
    service.child.once('exit', (code) => {
      if (!stopping) {
        console.error(`${service.name} exited unexpectedly (code ${code}); stopping the stack`);
        void shutdown('child exit');
      }
    });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
