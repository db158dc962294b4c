/**
 * tools/node-flags.conf is the one place that defines the services' Node/V8 flags: the
 * launcher (tools/stack.mjs) passes them, the Dockerfile's CMD reads the same file (checked
 * in deploy.spec.ts), compose and Kubernetes run that CMD, and Node accepts and applies them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const conf = readFileSync(join(root, 'tools/node-flags.conf'), 'utf8');
/** Every app that runs as a process (the console is static assets). */
const SERVICES = readdirSync(join(root, 'apps')).filter((app) => existsSync(join(root, 'apps', app, 'src/main.ts')));

const stack = () => import('./stack.mjs');

interface Container {
  name: string;
  command?: unknown;
  args?: unknown;
  env?: { name: string; value: string }[];
}

describe('tools/node-flags.conf', () => {
  it('has one line per service process, and only those', async () => {
    const { nodeFlags } = await stack();
    const listed = conf
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0])
      .filter((name) => name && !name.startsWith('#'));
    expect([...listed].sort()).toEqual([...SERVICES, 'env'].sort());
    expect(SERVICES).toEqual(expect.arrayContaining(['gateway', 'scheduler', 'executor', 'refresh-worker', 'admin']));
    for (const service of SERVICES) expect(nodeFlags(service).length, service).toBeGreaterThan(0);
    expect(() => nodeFlags('no-such-service')).toThrow(/no line for no-such-service/);
  });

  it('gateway and executor, which hold large bodies, may ask V8 for collections (libs/runtime off-heap-collector)', async () => {
    const { nodeFlags } = await stack();
    for (const service of ['gateway', 'executor']) expect(nodeFlags(service), service).toContain('--expose-gc');
    for (const service of ['scheduler', 'admin', 'refresh-worker'])
      expect(nodeFlags(service), service).not.toContain('--expose-gc');
  });

  it('the `env` line is the environment of every service', async () => {
    const { serviceEnv } = await stack();
    expect(serviceEnv()).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(serviceEnv('env A=1 B=x=y\ngateway --x\n')).toEqual({ A: '1', B: 'x=y' });
    expect(serviceEnv('gateway --x\n')).toEqual({});
  });

  it('the launcher runs a service with its flags, then CPA_NODE_ARGS, then its main script', async () => {
    const { nodeFlags, serviceArgs } = await stack();
    expect(serviceArgs('apps/executor/dist/main.js', {})).toEqual([
      ...nodeFlags('executor'),
      join(root, 'apps/executor/dist/main.js'),
    ]);
    expect(serviceArgs('apps/gateway/dist/main.js', { CPA_NODE_ARGS: '--cpu-prof  --max-semi-space-size=16' })).toEqual(
      [...nodeFlags('gateway'), '--cpu-prof', '--max-semi-space-size=16', join(root, 'apps/gateway/dist/main.js')],
    );
  });

  // Flags Node does not know make it exit ("bad option"); the young generation shows V8 applied them.
  it.each(SERVICES)('Node accepts the flags of %s and V8 applies them', async (service) => {
    const { nodeFlags } = await stack();
    const flags = nodeFlags(service);
    const semiSpaceMb = Number(
      /^--max-semi-space-size=(\d+)$/.exec(flags.find((f) => f.startsWith('--max-semi-space-size=')) ?? '')?.[1],
    );
    expect(semiSpaceMb, 'every service bounds its young generation').toBeGreaterThan(0);
    // Objects that survive a scavenge or two: the young generation grows to its limit (two semi-spaces).
    const probe = `
      const window = new Array(50000);
      for (let i = 0; i < 3000000; i++) window[i % window.length] = { i, s: 'x' + i };
      const newSpace = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      console.log(JSON.stringify({ execArgv: process.execArgv, newSpaceMb: newSpace.space_size / 1048576 }));`;
    const run = (args: string[]) => {
      const result = spawnSync(process.execPath, [...args, '-e', probe], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { execArgv: string[]; newSpaceMb: number };
    };
    const withFlags = run(flags);
    expect(withFlags.execArgv).toEqual([...flags, '-e', probe]);
    expect(withFlags.newSpaceMb).toBe(2 * semiSpaceMb);
    expect(run([]).newSpaceMb, 'V8 default, larger than the bound').toBeGreaterThan(2 * semiSpaceMb);
  });

  it('compose and Kubernetes run the image CMD: no service overrides its command or NODE_OPTIONS', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { command?: unknown; entrypoint?: unknown; environment?: Record<string, unknown> }>;
    };
    const running = Object.entries(compose.services).filter(([, s]) => typeof s.environment?.SERVICE === 'string');
    expect(running.map(([, s]) => s.environment!.SERVICE)).toEqual(expect.arrayContaining(SERVICES));
    for (const [name, s] of running) {
      expect(s.command, name).toBeUndefined();
      expect(s.entrypoint, name).toBeUndefined();
      expect(s.environment, name).not.toHaveProperty('NODE_OPTIONS');
    }
    const k8sDir = join(root, 'deploy/k8s');
    const docs = readdirSync(k8sDir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((d) => d.toJSON() as K8sDoc | null));
    type K8sDoc = {
      kind?: string;
      data?: Record<string, string>;
      spec?: { template?: { spec?: { containers?: Container[] } } };
    };
    for (const d of docs) if (d?.kind === 'ConfigMap') expect(d.data ?? {}).not.toHaveProperty('NODE_OPTIONS');
    const containers = docs
      .filter((d) => d?.kind === 'Deployment')
      .flatMap((d) => d!.spec?.template?.spec?.containers ?? []);
    expect(containers.map((c) => c.env?.find((e) => e.name === 'SERVICE')?.value)).toEqual(
      expect.arrayContaining(SERVICES),
    );
    for (const c of containers) {
      expect(c.command, c.name).toBeUndefined();
      expect(c.args, c.name).toBeUndefined();
      expect(c.env?.map((e) => e.name) ?? [], c.name).not.toContain('NODE_OPTIONS');
    }
  });
});
