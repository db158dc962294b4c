/**
 * No Docker engine runs here, so the deployment files are checked structurally: the compose
 * file against a schema of the Compose features it uses plus the stack's invariants, and the
 * Dockerfile by its instructions. When Debian's docker-compose binary is installed, its own
 * validator (`config -q`) runs too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROVIDER_FAMILIES } from '@cpa/contracts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { metricsRegistry, METRIC_NAMES } from '@cpa/runtime/metrics';

/** The one app that is not a process: static assets (Vite) the admin serves at /admin. */
const STATIC_APP = 'console';

const root = resolve(__dirname, '..');
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');

// ---------------------------------------------------------------- compose schema

const duration = z.string().regex(/^\d+(ms|s|m|h)$/);
const envValue = z.union([z.string(), z.number(), z.boolean()]);
const condition = z.enum(['service_started', 'service_healthy', 'service_completed_successfully']);

const Healthcheck = z
  .object({
    test: z.union([z.string(), z.tuple([z.enum(['CMD', 'CMD-SHELL'])], z.string())]),
    interval: duration,
    timeout: duration,
    retries: z.number().int().positive(),
    start_period: duration.optional(),
  })
  .strict();

const Service = z
  .object({
    image: z.string().min(1).optional(),
    build: z.object({ context: z.string(), dockerfile: z.string().optional() }).strict().optional(),
    command: z.union([z.string(), z.array(z.string())]).optional(),
    environment: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), envValue).optional(),
    ports: z.array(z.string().regex(/^(127\.0\.0\.1:)?(\$\{[A-Z_]+(:-\d+)?\}|\d+):\d+$/)).optional(),
    expose: z.array(z.union([z.string().regex(/^\d+$/), z.number().int()])).optional(),
    volumes: z.array(z.string().regex(/^[^:]+:\/[^:]*(:ro|:rw)?$/)).optional(),
    healthcheck: Healthcheck.optional(),
    depends_on: z.record(z.string(), z.object({ condition }).strict()).optional(),
    restart: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).optional(),
    init: z.boolean().optional(),
    stop_grace_period: duration.optional(),
    profiles: z
      .array(z.string().regex(/^[a-z][a-z0-9_-]*$/))
      .nonempty()
      .optional(),
  })
  .strict()
  .refine((s) => s.image !== undefined || s.build !== undefined, 'a service needs an image or a build');

const Compose = z
  .object({
    services: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), Service),
    volumes: z.record(z.string(), z.null()).optional(),
    networks: z
      .object({
        default: z
          .object({ ipam: z.object({ config: z.array(z.object({ subnet: z.string() }).strict()).length(1) }).strict() })
          .strict(),
      })
      .strict()
      .optional(),
  })
  .strict();

type ComposeFile = z.infer<typeof Compose>;
type ServiceDef = z.infer<typeof Service>;

/** YAML with merge keys resolved; top-level `x-` extension fields only hold anchors. */
function parseCompose(text: string): ComposeFile {
  const doc = parse(text, { merge: true }) as Record<string, unknown>;
  const withoutExtensions = Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('x-')));
  return Compose.parse(withoutExtensions);
}

const compose = parseCompose(read('docker-compose.yml'));
const services = compose.services;
const svc = (name: string): ServiceDef => {
  const s = services[name];
  if (!s) throw new Error(`service ${name} missing`);
  return s;
};
const env = (name: string) => svc(name).environment ?? {};

const EXECUTORS = PROVIDER_FAMILIES.map((f) => `executor-${f}`);
const APP_SERVICES = ['migrate', 'admin', 'scheduler', ...EXECUTORS, 'refresh-worker', 'gateway'];
const LONG_RUNNING_APPS = APP_SERVICES.filter((s) => s !== 'migrate');
/** Started only with `--profile observability`. */
const OBSERVABILITY = ['prometheus', 'grafana'];
const EXPECTED = ['postgres', 'redis', 'lb', ...APP_SERVICES, ...OBSERVABILITY];

describe('docker-compose.yml: schema', () => {
  it('parses and matches the schema of the Compose features it uses', () => {
    expect(Object.keys(services).sort()).toEqual([...EXPECTED].sort());
  });

  it('the schema is strict: a misspelt key or a malformed port is rejected', () => {
    expect(() => parseCompose('services:\n  a:\n    image: x\n    depends-on: [b]\n')).toThrow();
    expect(() => parseCompose('services:\n  a:\n    image: x\n    ports: ["80"]\n')).toThrow();
    expect(() => parseCompose('services:\n  a:\n    restart: always\n')).toThrow(/image or a build/);
  });

  it('every dependency names a service, and the dependency graph has no cycle', () => {
    const order: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string) => {
      expect(services[name], `dependency ${name}`).toBeDefined();
      if (state.get(name) === 'done') return;
      expect(state.get(name), `cycle through ${name}`).not.toBe('visiting');
      state.set(name, 'visiting');
      for (const dep of Object.keys(svc(name).depends_on ?? {})) visit(dep);
      state.set(name, 'done');
      order.push(name);
    };
    Object.keys(services).forEach(visit);
    expect(order.indexOf('migrate')).toBeLessThan(order.indexOf('gateway'));
    expect(order.indexOf('postgres')).toBeLessThan(order.indexOf('migrate'));
  });

  it('named volumes are declared', () => {
    const named = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0])
      .filter((src) => !src.startsWith('.') && !src.startsWith('/'));
    expect(named.length).toBeGreaterThan(0);
    for (const v of named) expect(Object.keys(compose.volumes ?? {})).toContain(v);
  });
});

describe('docker-compose.yml: the stack', () => {
  it('runs Postgres 15 and Redis 7 with health checks and volumes', () => {
    expect(svc('postgres').image).toMatch(/^postgres:15/);
    expect(JSON.stringify(svc('postgres').healthcheck?.test)).toContain('pg_isready');
    expect(svc('postgres').volumes?.[0]).toMatch(/:\/var\/lib\/postgresql\/data$/);
    expect(svc('redis').image).toMatch(/^redis:7/);
    expect(JSON.stringify(svc('redis').healthcheck?.test)).toContain('redis-cli');
  });

  it('migrate runs tools/migrate.mjs once, after Postgres is healthy', () => {
    const m = svc('migrate');
    expect(m.command).toEqual(['node', 'tools/migrate.mjs']);
    expect(existsSync(join(root, 'tools/migrate.mjs'))).toBe(true);
    expect(m.restart).toBe('no');
    expect(m.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
    expect(m.healthcheck).toBeUndefined();
  });

  it('every long-running service has a health check', () => {
    for (const name of Object.keys(services).filter((n) => n !== 'migrate')) {
      expect(svc(name).healthcheck, name).toBeDefined();
    }
  });

  it('services that use the database start only after migrations completed; Redis and Postgres must be healthy', () => {
    for (const name of LONG_RUNNING_APPS) {
      const deps = svc(name).depends_on ?? {};
      expect(env(name).DATABASE_URL, name).toBeDefined();
      expect(deps.migrate, name).toEqual({ condition: 'service_completed_successfully' });
      expect(deps.redis, name).toEqual({ condition: 'service_healthy' });
    }
    // A dependency on a service with a health check waits for healthy, never just "started".
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition: c }] of Object.entries(s.depends_on ?? {})) {
        const expected = dep === 'migrate' ? 'service_completed_successfully' : 'service_healthy';
        expect(c, `${name} -> ${dep}`).toBe(expected);
      }
    }
  });

  it('app services share one image, run in production mode, and require CPA_SECRET_KEY', () => {
    const images = new Set(APP_SERVICES.map((n) => svc(n).image));
    expect(images.size).toBe(1);
    for (const name of APP_SERVICES) {
      const e = env(name);
      expect(svc(name).build?.dockerfile, name).toBe('Dockerfile');
      expect(e.NODE_ENV, name).toBe('production');
      expect(e.CPA_SECRET_KEY, name).toBe('${CPA_SECRET_KEY:?set CPA_SECRET_KEY}');
      expect(String(e.DATABASE_URL), name).toMatch(/^postgresql:\/\/[^@]+@postgres:5432\/cliproxy$/);
      expect(e.REDIS_URL, name).toBe('redis://redis:6379');
    }
  });

  it("each SERVICE names a built app, and every app is deployed (the console as the admin's static assets)", () => {
    const apps = readdirSync(join(root, 'apps')).filter(
      (d) => d !== STATIC_APP && existsSync(join(root, 'apps', d, 'package.json')),
    );
    const deployed = new Set<string>();
    for (const name of LONG_RUNNING_APPS) {
      const app = String(env(name).SERVICE);
      expect(apps, name).toContain(app);
      const pkg = JSON.parse(read(`apps/${app}/package.json`)) as { main: string };
      expect(pkg.main).toBe('dist/main.js');
      deployed.add(app);
    }
    expect([...deployed].sort()).toEqual([...apps].sort());
  });

  it('runs one executor per provider family, selected by PROVIDER_FAMILY', () => {
    for (const family of PROVIDER_FAMILIES) {
      expect(env(`executor-${family}`)).toMatchObject({ SERVICE: 'executor', PROVIDER_FAMILY: family });
    }
  });

  it('health checks probe the port each service listens on', () => {
    const probes = (name: string) => JSON.stringify(svc(name).healthcheck?.test);
    expect(probes('gateway')).toContain('http://127.0.0.1:8317/healthz');
    expect(env('gateway').PORT).toBe('8317');
    expect(probes('admin')).toContain('http://127.0.0.1:8318/healthz');
    expect(env('admin').ADMIN_PORT).toBe('8318');
    for (const name of ['scheduler', 'refresh-worker', ...EXECUTORS]) {
      expect(env(name).HEALTH_PORT, name).toBe('9000');
      expect(probes(name), name).toContain('process.env.HEALTH_PORT');
      expect(probes(name), name).toContain('/healthz');
    }
  });

  it('gateway can scale: no host port, no container name; only lb publishes the port', () => {
    const g = svc('gateway');
    expect(g.ports).toBeUndefined();
    expect(g).not.toHaveProperty('container_name');
    expect(g.expose?.map(String)).toEqual(['8317']);
    expect(env('gateway').ADMIN_URL).toBe('http://admin:8318');
    // Of the services a plain `docker compose up` starts; the optional Grafana publishes on loopback only.
    const published = Object.entries(services).filter(([, s]) => s.ports !== undefined && s.profiles === undefined);
    expect(published.map(([n]) => n)).toEqual(['lb']);
    expect(svc('grafana').ports?.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    expect(svc('lb').ports).toEqual(['${PORT:-8317}:8317']);
    expect(svc('lb').depends_on?.gateway).toEqual({ condition: 'service_healthy' });
  });

  it('lb round-robins over gateway replicas, re-resolving them through Docker DNS', () => {
    const lb = svc('lb');
    expect(lb.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/); // `server ... resolve` needs nginx >= 1.27.3
    expect(lb.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
    const conf = read('deploy/nginx.conf');
    expect(conf).toMatch(/resolver 127\.0\.0\.11 valid=\d+s/);
    expect(conf).toMatch(/upstream gateways \{[^}]*zone gateways[^}]*server gateway:8317 resolve/s);
    expect(conf).not.toMatch(/\b(least_conn|ip_hash|hash)\b/); // default method is round-robin
    expect(conf).toMatch(/listen 8317;/);
    expect(conf).toMatch(/proxy_pass http:\/\/gateways;/);
    expect(conf).toMatch(/proxy_buffering off;/);
    expect(JSON.stringify(lb.healthcheck?.test)).toContain('/lb-healthz');
  });

  it('admin listens on the compose network and believes forwarded headers only from it', () => {
    expect(env('admin').ADMIN_HOST).toBe('0.0.0.0');
    const subnet = compose.networks?.default.ipam.config[0]?.subnet;
    expect(subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect(env('admin').TRUSTED_PROXIES).toBe(subnet);
  });

  it('admin imports the mounted config.yaml read-only', () => {
    expect(env('admin').CONFIG_FILE).toBe('/config/config.yaml');
    expect(svc('admin').volumes).toContain('./config.yaml:/config/config.yaml:ro');
    expect(svc('admin').expose?.map(String)).toEqual(['8318']);
  });

  // Compose's own validation, where Debian's docker-compose is installed (the parser checks above always run).
  const composeAvailable = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!composeAvailable)('docker-compose validates the file (skipped without the docker-compose binary)', () => {
    const baseEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== 'CPA_SECRET_KEY' && k !== 'PORT'),
    );
    const run = (extra: Record<string, string>) =>
      spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...baseEnv, ...extra },
      });
    const ok = run({ CPA_SECRET_KEY: 'test-secret' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const missingSecret = run({});
    expect(missingSecret.status).not.toBe(0);
    expect(missingSecret.stderr).toContain('set CPA_SECRET_KEY');
  });
});

// ---------------------------------------------------------------- metrics: Prometheus and Grafana

interface DashboardPanel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

describe('observability profile: Prometheus and Grafana over /metrics', () => {
  const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as {
    scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; type: string; port: number }[] }[];
  };
  const dashboard = JSON.parse(read('deploy/grafana/cpa-dashboard.json')) as {
    uid: string;
    panels: DashboardPanel[];
    templating: { list: { query: { query: string } }[] };
  };

  it('runs only with --profile observability; everything else starts without a profile', () => {
    for (const name of OBSERVABILITY) expect(svc(name).profiles, name).toEqual(['observability']);
    for (const name of Object.keys(services).filter((n) => !OBSERVABILITY.includes(n)))
      expect(svc(name).profiles, name).toBeUndefined();
    expect(svc('prometheus').image).toMatch(/^prom\/prometheus:v\d/);
    expect(svc('grafana').image).toMatch(/^grafana\/grafana:\d/);
    expect(svc('grafana').depends_on?.prometheus).toEqual({ condition: 'service_healthy' });
  });

  it('Prometheus scrapes every replica of every app service on the port it serves /metrics on', () => {
    expect(svc('prometheus').volumes).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const scraped = new Map<string, number>();
    for (const job of prometheus.scrape_configs) {
      for (const sd of job.dns_sd_configs) {
        // DNS A records: every replica of a scaled service (`--scale gateway=3`).
        expect(sd.type, job.job_name).toBe('A');
        for (const name of sd.names) scraped.set(name, sd.port);
      }
    }
    const portOf = (name: string) => Number(env(name).PORT ?? env(name).ADMIN_PORT ?? env(name).HEALTH_PORT);
    for (const name of LONG_RUNNING_APPS) expect(scraped.get(name), name).toBe(portOf(name));
    expect([...scraped.keys()].sort()).toEqual([...LONG_RUNNING_APPS].sort());
  });

  it("/metrics stays on the compose network: the load balancer doesn't pass it through", () => {
    expect(read('deploy/nginx.conf')).toMatch(/location = \/metrics \{\s*return 404;\s*\}/);
  });

  it('Grafana is provisioned with the Prometheus data source and the dashboard', () => {
    const volumes = svc('grafana').volumes ?? [];
    expect(volumes).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const providers = parse(read('deploy/grafana/provisioning/dashboards/cpa.yml')) as {
      providers: { options: { path: string } }[];
    };
    const dir = providers.providers[0]!.options.path;
    expect(volumes).toContain(`./deploy/grafana/cpa-dashboard.json:${dir}/cpa-dashboard.json:ro`);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('prometheus');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it("the dashboard's queries name only series the services expose, and chart every cpa_ series", async () => {
    // Series names as scraped: a histogram is exposed as _bucket, _sum and _count.
    const exposed = new Set<string>();
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    for (const metric of [...(await metricsRegistry.getMetricsAsJSON()), ...(await defaults.getMetricsAsJSON())]) {
      const kind = String(metric.type);
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(metric.name + suffix);
      else exposed.add(metric.name);
    }
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr }))),
      ...dashboard.templating.list.map((v) => ({ title: 'variable', expr: v.query.query })),
    ];
    const charted = new Set<string>();
    for (const { title, expr } of queries) {
      const series = expr.match(/\b(cpa|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
      expect(series.length, `${title}: ${expr}`).toBeGreaterThan(0);
      for (const name of series) {
        expect(exposed.has(name), `${title}: ${name}`).toBe(true);
        charted.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    for (const name of METRIC_NAMES) expect(charted.has(name), name).toBe(true);
  });
});

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped, split into stages. */
function parseDockerfile(text: string): {
  args: Record<string, string>;
  stages: { from: string; name?: string; body: Instruction[] }[];
} {
  const joined = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const args: Record<string, string> = {};
  const stages: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const line of joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`unparsable Dockerfile line: ${line}`);
    const [, op, rest] = m;
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k] = v ?? '';
    } else if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const image = f[1].replace(/^\$\{(\w+)\}$/, (_, k: string) => args[k] ?? '');
      stages.push({ from: image, name: f[2], body: [] });
    } else {
      stages.at(-1)?.body.push({ op, args: rest.replace(/\s+/g, ' ') });
    }
  }
  return { args, stages };
}

describe('Dockerfile', () => {
  const { stages } = parseDockerfile(read('Dockerfile'));
  const build = stages.find((s) => s.body.some((i) => i.op === 'RUN' && i.args.includes('npm run build')));
  const runtime = stages.at(-1)!;

  it('is multi-stage on node:20-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toBe('node:20-bookworm-slim');
    expect(build).toBeDefined();
    expect(build).not.toBe(runtime);
  });

  it('installs with npm ci, generates the Prisma client with the real engine, then builds', () => {
    const runs = build!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    const ci = runs.findIndex((r) => /\bnpm ci\b/.test(r));
    const generate = runs.findIndex((r) => /\bprisma generate\b/.test(r));
    const compile = runs.findIndex((r) => r === 'npm run build');
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(generate).toBeGreaterThan(ci);
    expect(compile).toBeGreaterThan(generate);
    expect(read('Dockerfile')).not.toMatch(/PRISMA_SCHEMA_ENGINE_BINARY\s*=/);
  });

  it('`npm run build` builds every app and lib, the console with Vite', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe(`tsc -b tsconfig.build.json && npm run --silent build -w apps/${STATIC_APP}`);
    const refs = (JSON.parse(read('tsconfig.build.json')) as { references: { path: string }[] }).references.map(
      (r) => r.path,
    );
    for (const dir of ['apps', 'libs']) {
      for (const project of readdirSync(join(root, dir)).filter(
        (p) => p !== STATIC_APP && existsSync(join(root, dir, p, 'tsconfig.json')),
      )) {
        expect(refs, `${dir}/${project}`).toContain(`${dir}/${project}`);
      }
    }
  });

  it('the runtime image carries built apps, runs as a non-root user, and starts apps/$SERVICE/dist/main.js', () => {
    const copies = runtime.body.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const dir of ['node_modules', 'libs', 'apps', 'tools', 'prisma']) {
      expect(
        copies.some((c) => c.includes('--from=') && c.endsWith(` ./${dir}`)),
        dir,
      ).toBe(true);
    }
    const user = runtime.body.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const cmd = JSON.parse(runtime.body.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    expect(cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cmd[2]).toMatch(/^exec /);
    expect(runtime.body.some((i) => i.op === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
  });

  it("the CMD runs node with the environment and the service's flags from tools/node-flags.conf, then CPA_NODE_ARGS", async () => {
    const { nodeFlags, serviceEnv } = await import('./stack.mjs');
    const [shell, option, command] = JSON.parse(runtime.body.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    // The image's shell line, run here with a `node` that prints its arguments and environment instead of starting.
    const bin = mkdtempSync(join(tmpdir(), 'cpa-cmd-'));
    writeFileSync(join(bin, 'node'), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\necho --env--\nenv\n', {
      mode: 0o755,
    });
    const run = (env: Record<string, string>) => {
      const result = spawnSync(shell, [option, command], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: `${bin}:${process.env.PATH}`, ...env },
      });
      expect(result.status, result.stderr).toBe(0);
      const [argv, environment] = result.stdout.split('--env--\n');
      return { argv: argv.split('\n').filter(Boolean), env: environment.split('\n').filter(Boolean) };
    };
    const expectedEnv = Object.entries(serviceEnv()).map(([name, value]) => `${name}=${value}`);
    expect(expectedEnv.length).toBeGreaterThan(0);
    for (const service of ['gateway', 'scheduler', 'executor', 'refresh-worker', 'admin']) {
      const { argv, env } = run({ SERVICE: service });
      expect(argv, service).toEqual([...nodeFlags(service), `apps/${service}/dist/main.js`]);
      expect(env, service).toEqual(expect.arrayContaining(expectedEnv));
    }
    expect(run({ SERVICE: 'executor', CPA_NODE_ARGS: '--cpu-prof --max-semi-space-size=16' }).argv).toEqual([
      ...nodeFlags('executor'),
      '--cpu-prof',
      '--max-semi-space-size=16',
      'apps/executor/dist/main.js',
    ]);
  });

  it('.dockerignore keeps dependencies, build outputs, secrets and the local Prisma client out of the context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.git', '**/node_modules', '**/dist', '.env', 'libs/db/src/generated', 'config.yaml']) {
      expect(ignored).toContain(entry);
    }
  });
});
