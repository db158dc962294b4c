/**
 * Boots the built stack as separate processes against a database and Redis key prefix
 * of its own, with a config.yaml pointing every credential at the mock upstream; useStack
 * gives a suite that stack and the clients that talk to it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { stringify } from 'yaml';
import { createEmptyDatabase } from '@cpa/db/testing';
import { startMockUpstream, waitFor, type MockUpstream } from '@cpa/testing';

import type { ChildProcess } from 'node:child_process';

export interface RunningStack {
  /** The first gateway; `urls` has every gateway replica. */
  url: string;
  urls: string[];
  adminUrl: string;
  /** Every line the services printed, as `<service> <line>` (log assertions, e.g. no secrets). */
  logs: string[];
  /** The database and Redis key prefix of this stack, for tests that seed data directly. */
  databaseUrl: string;
  keyPrefix: string;
  /** Every process; `label` tells replicas apart (`gateway#2`), `child` is the current process after a restart. */
  services: { name: string; label: string; child: ChildProcess }[];
  stop(): Promise<void>;
}

/** Leaves nothing behind: the suite's database and every Redis key under its prefix. */
export async function cleanUp(database: { drop(): Promise<void> }, keyPrefix: string): Promise<void> {
  await database.drop();
  const { deleteKeys } = await import('../tools/redis-keys.mjs');
  await deleteKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix);
}

/** Executors a suite gets unless it names its own (`StackSetup.families`). */
export const DEFAULT_FAMILIES = ['claude', 'openai-compat', 'gemini', 'codex'];

/** `serviceDatabaseUrl` rewrites the services' DATABASE_URL (e.g. through a proxy a test can cut). */
export async function bootStack(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  families = DEFAULT_FAMILIES,
  serviceDatabaseUrl: (direct: string) => string = (direct) => direct,
): Promise<RunningStack> {
  const dir = mkdtempSync(join(tmpdir(), 'cpa-e2e-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  const database = await createEmptyDatabase('cliproxy_e2e');
  const databaseUrl = database.url;
  const stackModule = pathToFileURL(resolve(__dirname, '../tools/stack.mjs')).href;
  const { startStack } = (await import(stackModule)) as {
    startStack(o: object): Promise<Omit<RunningStack, 'databaseUrl' | 'keyPrefix' | 'logs'>>;
  };
  const keyPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}e2e:${process.pid}:`;
  const logs: string[] = [];
  const stack = await startStack({
    quiet: !process.env.E2E_VERBOSE,
    skipBuild: !process.env.E2E_BUILD,
    families,
    onLine: (name: string, line: string) => void logs.push(`${name} ${line}`),
    env: {
      DATABASE_URL: serviceDatabaseUrl(databaseUrl),
      TRANSPORT_KEY_PREFIX: keyPrefix,
      PORT: '0',
      ADMIN_PORT: '0',
      CONFIG_FILE: configFile,
      LOG_LEVEL: 'warn',
      // JSON lines even under E2E_VERBOSE in a terminal: suites parse them.
      LOG_FORMAT: 'json',
      CATALOG_RELOAD_MS: '0',
      ...env,
    },
  });
  return {
    ...stack,
    databaseUrl,
    keyPrefix,
    logs,
    stop: async () => {
      await stack.stop();
      await cleanUp(database, keyPrefix);
    },
  };
}

/**
 * After a test wrote credentials straight into the stack's Postgres: publishes the catalog
 * snapshot (as the admin does after its own writes) and broadcasts config.changed, so every
 * service reloads, from Redis, what the test stored.
 */
export async function announceCatalogChange(stack: RunningStack, credentialIds: string[]): Promise<void> {
  const [
    { CatalogPublisher, CatalogStore },
    { CatalogSourceRepository, PrismaService },
    { Events },
    { RedisTransportClient },
    { lastValueFrom },
  ] = await Promise.all([
    import('@cpa/catalog'),
    import('@cpa/db'),
    import('@cpa/contracts'),
    import('@cpa/transport'),
    import('rxjs'),
  ]);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prisma = new PrismaService(stack.databaseUrl);
  const store = new CatalogStore(redisUrl, stack.keyPrefix);
  const events = new RedisTransportClient({ redisUrl, keyPrefix: stack.keyPrefix });
  try {
    await new CatalogPublisher(new CatalogSourceRepository(prisma), store).publish();
    await events.connect();
    await lastValueFrom(
      events.emit(Events.configChanged, { sections: ['auth-files'], credentialIds, at: Date.now() }),
      { defaultValue: undefined },
    );
  } finally {
    await events.close();
    store.onModuleDestroy();
    await prisma.$disconnect();
  }
}

/**
 * Environment of a suite that runs two gateways, two schedulers and two executors of each
 * family it starts, so the request path crosses processes as it does in production.
 */
export const TWO_OF_EACH: Record<string, string> = {
  GATEWAY_REPLICAS: '2',
  SCHEDULER_REPLICAS: '2',
  EXECUTOR_REPLICAS: '2',
};

/**
 * How long a management change may take to be seen through every gateway: the README's
 * promise. It travels by broadcast event (milliseconds); the budget absorbs a loaded machine.
 */
export const PROPAGATION_MS = 5_000;

/** The client API key every suite's stack accepts. */
export const CLIENT_KEY = 'sk-client-e2e';
/** The management secret every suite's stack is configured with. */
export const MANAGEMENT_SECRET = 'mgmt-e2e-secret';

export interface StackSetup {
  /** config.yaml beyond the client key and management secret, given the running mock upstream. */
  config(mock: MockUpstream): Record<string, unknown>;
  /** Extra environment of every service; read once the hooks registered before useStack have run. */
  env?(): Record<string, string>;
  /** Executor families to start (default DEFAULT_FAMILIES). */
  families?: string[];
  /** The services' DATABASE_URL given the stack's own database URL (default: that URL). */
  databaseUrl?(direct: string): string;
}

/** A suite's stack and mock upstream, with clients that authenticate to it. */
export interface StackSuite {
  /** The suite's mock upstream; usable from the suite's tests and later hooks. */
  mock: MockUpstream;
  /** The suite's running stack; usable from the suite's tests and later hooks. */
  stack: RunningStack;
  /** A client of the next gateway in turn (requests spread over every replica), or of `gateway`. */
  openai(options?: { defaultHeaders?: Record<string, string>; gateway?: string }): OpenAI;
  anthropic(options?: { gateway?: string }): Anthropic;
  /** A request to the management API with the management secret, through the next gateway in turn. */
  management(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Resolves once `check(gatewayUrl)` has held through every gateway replica, all within
   * `timeoutMs` from the call (a change must be seen by every pod, not just one).
   */
  onEveryGateway(check: (gateway: string) => Promise<boolean>, timeoutMs: number): Promise<void>;
}

/**
 * A stand-in for an object that exists only once the hooks have run, so a suite can name
 * it at the top of the file: every property read is forwarded to the current object.
 */
function live<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, property) {
      const target = current();
      if (target === undefined)
        throw new Error(`${what} is not running: use it in tests and in hooks registered after useStack`);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Registers the suite's hooks: a mock upstream and a stack booted against it for the whole
 * file, with the recorded upstream requests and scripted behaviours cleared before each test.
 */
export function useStack(setup: StackSetup): StackSuite {
  let running: { mock: MockUpstream; stack?: RunningStack } | undefined;
  const mock = live('the mock upstream', () => running?.mock);
  const stack = live('the stack', () => running?.stack);

  beforeAll(async () => {
    running = { mock: await startMockUpstream() };
    running.stack = await bootStack(
      {
        'api-keys': [CLIENT_KEY],
        'remote-management': { 'secret-key': MANAGEMENT_SECRET },
        ...setup.config(running.mock),
      },
      setup.env?.(),
      setup.families,
      setup.databaseUrl,
    );
  });
  afterAll(async () => {
    await running?.stack?.stop();
    await running?.mock.close();
  });
  beforeEach(() => mock.reset());

  // Round-robin over the gateway replicas, as a load balancer would spread a client's requests.
  let turn = 0;
  const nextGateway = () => stack.urls[turn++ % stack.urls.length];
  return {
    mock,
    stack,
    openai: ({ gateway = nextGateway(), ...options } = {}) =>
      new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gateway}/v1`, maxRetries: 0, ...options }),
    anthropic: ({ gateway = nextGateway() } = {}) =>
      new Anthropic({ apiKey: CLIENT_KEY, baseURL: gateway, maxRetries: 0 }),
    onEveryGateway: async (check, timeoutMs) => {
      // One deadline for all, checked one gateway after another (checks may share the mock's
      // request log): every gateway showed the change before `timeoutMs` had passed.
      const deadline = Date.now() + timeoutMs;
      for (const gateway of stack.urls) await waitFor(() => check(gateway), Math.max(0, deadline - Date.now()));
    },
    management: (path, init = {}) =>
      fetch(`${nextGateway()}/v0/management${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${MANAGEMENT_SECRET}`,
          'content-type': 'application/json',
          ...(init.headers ?? {}),
        },
      }),
  };
}
