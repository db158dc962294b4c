/**
 * The Kustomize base in deploy/k8s, checked against typed models of the Kubernetes fields it
 * uses (strict: an unknown or misspelt field fails) plus the stack's invariants. When kubectl
 * can run, `kubectl kustomize` must also build the base.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROVIDER_FAMILIES } from '@cpa/contracts';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '@cpa/transport';

const dir = resolve(__dirname, '..', 'deploy', 'k8s');

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
const labels = z.record(z.string(), z.string());
const Metadata = z.object({ name, labels: labels.optional() }).strict();
const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/);

const Probe = z
  .object({
    httpGet: z.object({ path: z.literal('/healthz'), port: z.literal('http') }).strict(),
    initialDelaySeconds: z.number().int().nonnegative().optional(),
    periodSeconds: z.number().int().positive(),
    failureThreshold: z.number().int().positive(),
  })
  .strict();

const Container = z
  .object({
    name,
    image: z.literal('cliproxy-ts'),
    command: z.array(z.string()).optional(),
    envFrom: z.array(
      z.union([
        z.object({ configMapRef: z.object({ name }).strict() }).strict(),
        z.object({ secretRef: z.object({ name }).strict() }).strict(),
      ]),
    ),
    env: z.array(z.object({ name: envName, value: z.string() }).strict()).optional(),
    ports: z.array(z.object({ name: z.string(), containerPort: z.number().int() }).strict()).optional(),
    lifecycle: z
      .object({ preStop: z.object({ sleep: z.object({ seconds: z.number().int().positive() }).strict() }).strict() })
      .strict()
      .optional(),
    readinessProbe: Probe.optional(),
    livenessProbe: Probe.optional(),
    resources: z
      .object({
        requests: z.object({ cpu: z.string(), memory: z.string() }).strict(),
        limits: z.object({ memory: z.string() }).strict(),
      })
      .strict()
      .optional(),
  })
  .strict();

const PodTemplate = z
  .object({
    metadata: z.object({ labels }).strict(),
    spec: z
      .object({
        terminationGracePeriodSeconds: z.number().int().positive().optional(),
        restartPolicy: z.enum(['OnFailure', 'Never']).optional(),
        containers: z.array(Container).length(1),
      })
      .strict(),
  })
  .strict();

const selector = z.object({ matchLabels: labels }).strict();

const Deployment = z
  .object({
    apiVersion: z.literal('apps/v1'),
    kind: z.literal('Deployment'),
    metadata: Metadata,
    spec: z.object({ replicas: z.number().int().positive(), selector, template: PodTemplate }).strict(),
  })
  .strict();
const Job = z
  .object({
    apiVersion: z.literal('batch/v1'),
    kind: z.literal('Job'),
    metadata: Metadata,
    spec: z.object({ backoffLimit: z.number().int(), template: PodTemplate }).strict(),
  })
  .strict();
const Service = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Service'),
    metadata: Metadata,
    spec: z.union([
      z.object({ type: z.literal('ExternalName'), externalName: z.string().min(1) }).strict(),
      z
        .object({
          selector: labels,
          ports: z
            .array(z.object({ name: z.string(), port: z.number().int(), targetPort: z.string() }).strict())
            .min(1),
        })
        .strict(),
    ]),
  })
  .strict();
const Hpa = z
  .object({
    apiVersion: z.literal('autoscaling/v2'),
    kind: z.literal('HorizontalPodAutoscaler'),
    metadata: Metadata,
    spec: z
      .object({
        scaleTargetRef: z.object({ apiVersion: z.literal('apps/v1'), kind: z.literal('Deployment'), name }).strict(),
        minReplicas: z.number().int().positive(),
        maxReplicas: z.number().int().positive(),
        metrics: z
          .array(
            z
              .object({
                type: z.literal('Resource'),
                resource: z
                  .object({
                    name: z.literal('cpu'),
                    target: z.object({ type: z.literal('Utilization'), averageUtilization: z.number().int() }).strict(),
                  })
                  .strict(),
              })
              .strict(),
          )
          .min(1),
      })
      .strict(),
  })
  .strict();
const Pdb = z
  .object({
    apiVersion: z.literal('policy/v1'),
    kind: z.literal('PodDisruptionBudget'),
    metadata: Metadata,
    spec: z.object({ minAvailable: z.number().int().positive(), selector }).strict(),
  })
  .strict();
const ConfigMap = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('ConfigMap'),
    metadata: Metadata,
    data: z.record(envName, z.string()),
  })
  .strict();
const Secret = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Secret'),
    metadata: Metadata,
    type: z.literal('Opaque'),
    stringData: z.record(envName, z.string()),
  })
  .strict();
const Namespace = z.object({ apiVersion: z.literal('v1'), kind: z.literal('Namespace'), metadata: Metadata }).strict();

const Resource = z.discriminatedUnion('kind', [Deployment, Job, Service, Hpa, Pdb, ConfigMap, Secret, Namespace]);
type Resource = z.infer<typeof Resource>;

const Kustomization = z
  .object({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    namespace: name,
    labels: z.array(z.object({ pairs: labels, includeSelectors: z.boolean() }).strict()),
    images: z.array(z.object({ name: z.string(), newTag: z.string() }).strict()),
    resources: z.array(z.string()),
  })
  .strict();

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const kustomization = Kustomization.parse(
  parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]?.toJS(),
);

function parseFile(file: string): Resource[] {
  return parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return Resource.parse(doc.toJS());
  });
}
const resources = files.flatMap(parseFile);
const ofKind = <K extends Resource['kind']>(kind: K) =>
  resources.filter((r): r is Extract<Resource, { kind: K }> => r.kind === kind);
const byName = <K extends Resource['kind']>(kind: K, n: string) => {
  const found = ofKind(kind).find((r) => r.metadata.name === n);
  if (!found) throw new Error(`${kind} ${n} missing`);
  return found;
};
const envOf = (d: z.infer<typeof Deployment>) =>
  Object.fromEntries((d.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

const executors = PROVIDER_FAMILIES.map((f) => `executor-${f}`);
const services = ['admin', 'scheduler', 'gateway', 'refresh-worker', ...executors];

describe('deploy/k8s (Kustomize base)', () => {
  it('every file parses into typed resources and the kustomization names each of them', () => {
    expect(resources.length).toBeGreaterThan(services.length);
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it('has a Deployment per service, one executor per provider family with its PROVIDER_FAMILY', () => {
    expect(
      ofKind('Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual([...services].sort());
    for (const family of PROVIDER_FAMILIES) {
      const env = envOf(byName('Deployment', `executor-${family}`));
      expect(env).toMatchObject({ SERVICE: 'executor', PROVIDER_FAMILY: family });
    }
  });

  it('probes /healthz on the port each service serves it on, and outlasts the drain on termination', () => {
    const portEnv: Record<string, string> = { gateway: 'PORT', admin: 'ADMIN_PORT' };
    for (const d of ofKind('Deployment')) {
      const spec = d.spec.template.spec;
      const container = spec.containers[0]!;
      expect(container.readinessProbe, d.metadata.name).toBeDefined();
      expect(container.livenessProbe, d.metadata.name).toBeDefined();
      const env = envOf(d);
      const port = Number(env[portEnv[d.metadata.name] ?? 'HEALTH_PORT']);
      expect(container.ports?.find((p) => p.name === 'http')?.containerPort, d.metadata.name).toBe(port);
      // The selector must select the pod template (otherwise the API server rejects it).
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
      const preStop = container.lifecycle?.preStop.sleep.seconds ?? 0;
      expect(spec.terminationGracePeriodSeconds, d.metadata.name).toBeGreaterThan(
        preStop + DEFAULT_DRAIN_TIMEOUT_MS / 1000,
      );
      const from = container.envFrom.map((e) => ('secretRef' in e ? e.secretRef.name : e.configMapRef.name));
      expect(from).toEqual(expect.arrayContaining(['cpa-env', 'cpa-secrets']));
    }
  });

  it('autoscales gateways and executors and protects the replicated services with PodDisruptionBudgets', () => {
    for (const target of ['gateway', ...executors]) {
      const hpa = ofKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === target);
      expect(hpa, target).toBeDefined();
      expect(hpa!.spec.maxReplicas).toBeGreaterThan(hpa!.spec.minReplicas);
    }
    for (const target of ['gateway', 'scheduler', ...executors]) {
      const pdb = byName('PodDisruptionBudget', target);
      const deployment = byName('Deployment', target);
      expect(deployment.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
      // minAvailable below the replica count, or the budget blocks every node drain.
      expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    }
  });

  it('keeps Redis and Postgres outside, with their URLs and the secret key in a Secret', () => {
    expect(
      ofKind('Service')
        .filter((s) => 'externalName' in s.spec)
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['postgres', 'redis']);
    const secret = byName('Secret', 'cpa-secrets');
    expect(Object.keys(secret.stringData).sort()).toEqual(['CPA_SECRET_KEY', 'DATABASE_URL', 'REDIS_URL']);
    expect(new URL(secret.stringData.REDIS_URL!).hostname).toBe('redis');
    expect(new URL(secret.stringData.DATABASE_URL!).hostname).toBe('postgres');
    const config = byName('ConfigMap', 'cpa-env').data;
    expect(config.ADMIN_HOST).toBe('0.0.0.0');
    expect(config.TRUSTED_PROXIES).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+/);
    expect(envOf(byName('Deployment', 'gateway')).ADMIN_URL).toBe('http://admin:8318');
  });

  it('runs the migrations as a Job', () => {
    expect(byName('Job', 'migrate').spec.template.spec.containers[0]?.command).toEqual(['node', 'tools/migrate.mjs']);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  it.skipIf(kubectl.status !== 0)('builds with kubectl kustomize', () => {
    const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const built = parseAllDocuments(out.stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { namespace?: string } },
    );
    expect(built.filter((r) => r.kind === 'Deployment')).toHaveLength(services.length);
    expect(built.filter((r) => r.kind !== 'Namespace').every((r) => r.metadata.namespace === 'cliproxy')).toBe(true);
  });
});
