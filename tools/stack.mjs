#!/usr/bin/env node
/**
 * Starts the whole stack locally: builds, applies migrations, then runs admin, scheduler,
 * one executor per provider family, refresh-worker and gateway as separate processes
 * (GATEWAY_REPLICAS, SCHEDULER_REPLICAS, EXECUTOR_REPLICAS per family and
 * REFRESH_WORKER_REPLICAS of each, default 1), each with the Node flags and environment of
 * tools/node-flags.conf. A process that dies is restarted with backoff. Prints when
 * everything is ready; SIGINT/SIGTERM stop every child cleanly.
 *
 * Also importable: `startStack(options)` is what the e2e tests and the benchmark use.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** PROVIDER_FAMILIES of @cpa/contracts, which is not built yet when this runs (tools/stack.spec.ts keeps them equal). */
export const FAMILIES = [
  'claude',
  'gemini',
  'codex',
  'openai-compat',
  'gemini-cli',
  'antigravity',
  'vertex',
  'kimi',
  'iflow',
];

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
  const result = spawnSync('npm', ['run', '--silent', 'build'], {
    cwd: ROOT,
    stdio: quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`build failed${quiet ? `:\n${result.stdout}\n${result.stderr}` : ''}`);
}

/** Restart delays after an unexpected exit: 0.5 s doubling to 30 s; a minute of uptime resets them. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

const readNodeFlagsConf = () => readFileSync(resolve(ROOT, 'tools/node-flags.conf'), 'utf8');

/** The words after `key` on its line of tools/node-flags.conf, or undefined without such a line. */
function confLine(key, conf) {
  for (const line of conf.split('\n')) {
    const [name, ...words] = line.trim().split(/\s+/);
    if (name === key) return words;
  }
  return undefined;
}

/**
 * The Node/V8 flags of a service (the app directory's name: gateway, executor, ...) from
 * tools/node-flags.conf, the file the Dockerfile's CMD reads too.
 */
export function nodeFlags(service, conf = readNodeFlagsConf()) {
  const flags = confLine(service, conf);
  if (!flags) throw new Error(`tools/node-flags.conf has no line for ${service}`);
  return flags;
}

/** The environment every service runs with: the `env` line of tools/node-flags.conf (NAME=value ...). */
export function serviceEnv(conf = readNodeFlagsConf()) {
  return Object.fromEntries(
    (confLine('env', conf) ?? []).map((entry) => [
      entry.slice(0, entry.indexOf('=')),
      entry.slice(entry.indexOf('=') + 1),
    ]),
  );
}

/**
 * Node's arguments for a service's main script (`apps/<service>/dist/main.js`): its flags,
 * then CPA_NODE_ARGS (flags for every service that NODE_OPTIONS refuses, e.g. --cpu-prof;
 * a flag given twice takes the later value).
 */
export function serviceArgs(script, env) {
  const service = basename(dirname(dirname(script)));
  return [...nodeFlags(service), ...(env.CPA_NODE_ARGS ?? '').split(' ').filter(Boolean), resolve(ROOT, script)];
}

/** Runs one service process; `ready` resolves with its port when it prints its READY line. */
function spawnService(service, { quiet, onLine }) {
  const { name, label, script, env } = service;
  const child = spawn(process.execPath, serviceArgs(script, env), {
    cwd: ROOT,
    env: { ...env, ...serviceEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.child = child;
  service.startedAt = Date.now();
  return new Promise((resolveReady, rejectReady) => {
    let buffered = '';
    const onData = (stream) => (chunk) => {
      buffered += chunk.toString();
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(`READY ${name} `)) resolveReady(Number(/port=(\d+)/.exec(line)?.[1]));
        else if (!quiet) stream.write(`[${label}] ${line}\n`);
        onLine?.(name, line);
      }
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    child.once('exit', (code, signal) =>
      rejectReady(new Error(`${label} exited before it was ready (code ${code}, signal ${signal})`)),
    );
  });
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

/** How many processes of each kind: `<KIND>_REPLICAS` (default 1). */
function replicas(env, kind) {
  const value = Number(env[`${kind}_REPLICAS`] ?? 1);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${kind}_REPLICAS must be a whole number of at least 1`);
  return value;
}

/**
 * @param {{ env?: Record<string,string>, quiet?: boolean, skipBuild?: boolean, families?: string[], refreshWorker?: boolean, onLine?: (name: string, line: string) => void }} options
 */
export async function startStack(options = {}) {
  const env = defaults({ ...process.env, ...options.env });
  const quiet = options.quiet ?? false;
  // Services write JSON lines; someone watching them in a terminal gets them pretty-printed (LOG_FORMAT, when set, decides).
  if (!quiet && !env.LOG_FORMAT && process.stdout.isTTY && env.NODE_ENV !== 'production') env.LOG_FORMAT = 'pretty';
  if (!options.skipBuild) build({ quiet });
  const { migrate } = await import(pathToFileURL(resolve(ROOT, 'tools/migrate.mjs')).href);
  await migrate(env.DATABASE_URL, { quiet });

  const services = [];
  let stopping = false;
  // A process that started a stack and exits without stopping it (a crash, or process.exit on
  // a signal, as the benchmark does) takes its services along instead of leaving them running.
  const killOnExit = () => {
    for (const service of services) service.child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    stopping = true;
    process.off('exit', killOnExit);
    for (const service of services) clearTimeout(service.restartTimer);
    // Gateways first so no new work enters, then the rest drain what is in flight.
    const gateways = services.filter((s) => s.name === 'gateway');
    await Promise.all(gateways.map((s) => stopChild(s, 15_000)));
    await Promise.all(services.filter((s) => s.name !== 'gateway').map((s) => stopChild(s, 15_000)));
  };

  /**
   * A process that exits while the stack is not stopping is restarted with backoff, and
   * why is logged: one crashed service must not take the others down.
   */
  const supervise = (service) => {
    service.child.once('exit', (code, signal) => {
      if (stopping) return;
      const uptime = Date.now() - service.startedAt;
      service.restartDelay =
        uptime > STABLE_AFTER_MS
          ? RESTART_MIN_MS
          : Math.min(RESTART_MAX_MS, (service.restartDelay ?? RESTART_MIN_MS / 2) * 2);
      service.restarts = (service.restarts ?? 0) + 1;
      console.error(
        `${service.label} (pid ${service.child.pid}) exited unexpectedly (code ${code}, signal ${signal}) after ${Math.round(uptime / 1000)} s; restarting in ${service.restartDelay / 1000} s`,
      );
      service.restartTimer = setTimeout(() => {
        if (stopping) return;
        spawnService(service, { quiet, onLine: options.onLine }).then(
          () => console.error(`${service.label} restarted (pid ${service.child.pid})`),
          (err) => console.error(err.message),
        );
        supervise(service);
      }, service.restartDelay);
      service.restartTimer.unref?.();
    });
  };

  const launch = async (name, script, extra = {}, label = name) => {
    const service = { name, label, script, env: { ...env, HEALTH_PORT: '0', ...extra } };
    services.push(service);
    const port = await spawnService(service, { quiet, onLine: options.onLine });
    supervise(service);
    return port;
  };
  const launchReplicas = (kind, name, script, extra = {}, portOf) =>
    Array.from({ length: replicas(env, kind) }, (_, i) =>
      launch(
        name,
        script,
        { ...extra, ...(portOf ? portOf(i) : {}) },
        replicas(env, kind) > 1 ? `${name}#${i + 1}` : name,
      ),
    );
  try {
    // Admin first: it imports config.yaml, so every other service loads a complete catalog.
    const adminPort = await launch('admin', 'apps/admin/dist/main.js');
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const families = options.families ?? FAMILIES;
    await Promise.all([
      ...launchReplicas('SCHEDULER', 'scheduler', 'apps/scheduler/dist/main.js'),
      ...families.flatMap((family) =>
        launchReplicas('EXECUTOR', `executor-${family}`, 'apps/executor/dist/main.js', { PROVIDER_FAMILY: family }),
      ),
      ...(options.refreshWorker === false
        ? []
        : launchReplicas('REFRESH_WORKER', 'refresh-worker', 'apps/refresh-worker/dist/main.js')),
    ]);
    // Gateways on PORT, PORT+1, ... (PORT=0: each picks a free port).
    const basePort = Number(env.PORT);
    const gatewayPorts = await Promise.all(
      launchReplicas('GATEWAY', 'gateway', 'apps/gateway/dist/main.js', { ADMIN_URL: adminUrl }, (i) => ({
        PORT: String(basePort === 0 ? 0 : basePort + i),
      })),
    );
    const urls = gatewayPorts.map((port) => `http://127.0.0.1:${port}`);
    return { url: urls[0], urls, adminUrl, services, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main() {
  const stack = await startStack();
  console.log(`cliproxy ready: gateway ${stack.urls.join(', ')}, admin ${stack.adminUrl}`);
  for (const service of stack.services) console.log(`  ${service.label.padEnd(24)} pid ${service.child.pid}`);
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
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
