import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Events, type RouteRequest } from '@cpa/contracts';
import { CredentialRepository, PrismaService, SettingsRepository, UnitOfWork } from '@cpa/db';
import { REFRESH_PENDING_BACKOFF_MS, TOKEN_REQUEST_TIMEOUT_MS, TokenClient } from '@cpa/providers';
import { CredentialRefreshService } from '@cpa/providers/refresh';
import { DispatchService, RoutingStateStore } from '@cpa/routing-state';
import { StateMirror } from '@cpa/routing-state/postgres';
import { PublishedCatalog } from '@cpa/catalog/testing';
import { waitFor } from '@cpa/testing';
import { decodeRequest, isForward, transportKeys } from '@cpa/transport';
import { MockTokenServer, RotatingTokens } from '@cpa/testing';
import { HOUR, RefreshFixture } from './__fixtures__/refresh-fixture';
import { RefreshQueueService } from './refresh-queue.service';
import { RefreshWorkerModule } from './refresh-worker.module';

// Credential health against a rotating token endpoint (each refresh token works once, tokens
// expire in a minute), with the real Postgres, Redis and two worker replicas.
const server = new MockTokenServer();
const fixture = new RefreshFixture(server, {
  prefix: 'rwhealth',
  source: 'credential-health-test',
  expiresIn: 60,
  families: ['claude', 'codex'],
});
const { redisUrl, keyPrefix, source } = fixture;
const rotating = new RotatingTokens({ expiresIn: 60 });
const replicas: INestApplicationContext[] = [];
const changed: string[] = [];
let subscriber: Redis;
let credentials: CredentialRepository;
let prisma: PrismaService;
let settings: SettingsRepository;
let uow: UnitOfWork;
let refresherA: CredentialRefreshService;
let refresherB: CredentialRefreshService;
let queue: RefreshQueueService;

async function startReplica(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(
    RefreshWorkerModule.forRoot({ redisUrl, keyPrefix, scan: false, scanFilter: { source } }),
    {
      logger: false,
    },
  );
  replicas.push(app);
  return app;
}

beforeAll(async () => {
  await fixture.start();
  server.handler = rotating.handler;
  const a = await startReplica();
  const b = await startReplica();
  credentials = a.get(CredentialRepository);
  prisma = a.get(PrismaService);
  settings = a.get(SettingsRepository);
  uow = a.get(UnitOfWork);
  refresherA = a.get(CredentialRefreshService);
  refresherB = b.get(CredentialRefreshService);
  queue = a.get(RefreshQueueService);
  subscriber = new Redis(redisUrl);
  await subscriber.subscribe(transportKeys.event(keyPrefix, Events.credentialChanged));
  subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    changed.push(...((decodeRequest(message).data as { credentialIds?: string[] }).credentialIds ?? []));
  });
});

afterAll(async () => {
  subscriber?.disconnect();
  await prisma?.credential.deleteMany({ where: { source } });
  for (const app of replicas) await app.close();
  await fixture.stop();
});

/** A login whose token is about to expire (always due), its refresh token known to the endpoint. */
async function createLogin(provider: 'claude' | 'codex', extra: { alias?: string } = {}) {
  const refreshToken = `rt-${randomUUID()}`;
  rotating.seed(refreshToken);
  const record = await credentials.create({
    provider,
    kind: 'oauth',
    source,
    expiresAt: new Date(Date.now() + 30_000),
    secret: { accessToken: `at-${randomUUID()}`, refreshToken, tokenType: 'Bearer' },
    ...(extra.alias ? { attributes: { models: [{ name: 'claude-sonnet-4-5', alias: extra.alias }] } } : {}),
  });
  return { record, refreshToken };
}

const storedRefreshToken = async (id: string) => (await credentials.getSecret(id))!.refreshToken as string;
const presented = (refreshToken: string) => server.requests.filter((r) => r.fields.refresh_token === refreshToken);

/** A Prisma-style connection failure (P1001: can't reach the database server). */
function connectionLost(): Error {
  return Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), {
    name: 'PrismaClientKnownRequestError',
    code: 'P1001',
  });
}

describe('rotating refresh tokens', () => {
  it('two replicas refreshing again and again always present the newest token, once', async () => {
    const { record, refreshToken } = await createLogin('codex');
    let previous = refreshToken;
    for (let round = 0; round < 4; round++) {
      // Both replicas at once, the endpoint holding its answer until the loser has given up:
      // the claim lets one through, the other finds it claimed.
      let release!: () => void;
      const open = new Promise<void>((resolve) => (release = resolve));
      server.handler = async (req, index) => {
        await open;
        return rotating.handler(req, index);
      };
      let settled = 0;
      const pending = [refresherA, refresherB].map((r) => r.refresh(record.id).finally(() => settled++));
      await waitFor(() => settled === 1 && presented(previous).length === 1);
      release();
      const outcomes = await Promise.all(pending);
      server.handler = rotating.handler;
      expect(outcomes.filter((o) => o.status === 'refreshed')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'skipped')).toHaveLength(1);
      expect(presented(previous)).toHaveLength(1);
      const stored = await storedRefreshToken(record.id);
      expect(stored).not.toBe(previous);
      expect(rotating.valid.has(stored)).toBe(true);
      expect(rotating.spent.has(previous)).toBe(true);
      previous = stored;
      // Tokens expire within the minute: due again at once (the codex lead is 5 days).
      expect((await credentials.get(record.id))!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    }
    expect((await credentials.get(record.id))!.status).toBe('active');
  });

  it('new tokens survive database trouble after the token call: the write is retried until stored', async () => {
    const { record, refreshToken } = await createLogin('claude');
    const update = credentials.update.bind(credentials);
    let failures = 0;
    const spy = vi.spyOn(credentials, 'update').mockImplementation(async (id, version, patch) => {
      // The claim (no secret) goes through; the first three writes of the new tokens fail.
      if (id === record.id && patch.secret && failures < 3) {
        failures++;
        throw connectionLost();
      }
      return update(id, version, patch);
    });
    try {
      expect(await refresherA.refresh(record.id)).toMatchObject({ status: 'refreshed' });
    } finally {
      spy.mockRestore();
    }
    expect(failures).toBe(3);
    expect(presented(refreshToken)).toHaveLength(1);
    const stored = await storedRefreshToken(record.id);
    expect(rotating.valid.has(stored)).toBe(true);
    // The stored token is the live one: the next refresh works.
    expect(await refresherB.refresh(record.id)).toMatchObject({ status: 'refreshed' });
  });

  it('new tokens survive a run of concurrent edits (version conflicts) and keep the edits', async () => {
    const { record } = await createLogin('claude');
    const update = credentials.update.bind(credentials);
    let edits = 0;
    const spy = vi.spyOn(credentials, 'update').mockImplementation(async (id, version, patch) => {
      if (id === record.id && patch.secret && edits < 5) {
        // Someone else edits the row right before each of the first five writes.
        edits++;
        const current = (await credentials.get(id))!;
        await update(id, current.version, { label: `edit ${edits}` });
      }
      return update(id, version, patch);
    });
    try {
      expect(await refresherA.refresh(record.id)).toMatchObject({ status: 'refreshed' });
    } finally {
      spy.mockRestore();
    }
    expect(edits).toBe(5);
    expect((await credentials.get(record.id))!.label).toBe('edit 5');
    expect(rotating.valid.has(await storedRefreshToken(record.id))).toBe(true);
  });
});

describe('a slow token endpoint', () => {
  it('is given up on well inside the claim, so no second worker spends the same token meanwhile', async () => {
    expect(TOKEN_REQUEST_TIMEOUT_MS * 2).toBeLessThanOrEqual(REFRESH_PENDING_BACKOFF_MS);
    const slow = new RotatingTokens({ delayMs: 3_000 });
    const { record, refreshToken } = await createLogin('claude');
    slow.seed(refreshToken);
    server.handler = slow.handler;
    const impatient = new CredentialRefreshService(credentials, uow, new TokenClient({ timeoutMs: 300 }), settings);
    const abortedBefore = server.aborted;
    try {
      const started = Date.now();
      const outcome = await impatient.refresh(record.id);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(outcome).toMatchObject({
        status: 'failed',
        permanent: false,
        error: 'claude token endpoint did not answer within 300 ms',
      });
      await waitFor(() => server.aborted === abortedBefore + 1);
      // Backing off after the failure: another replica does not present the token again.
      expect(await refresherB.refresh(record.id)).toMatchObject({ status: 'skipped', reason: 'not-due' });
      expect(presented(refreshToken)).toHaveLength(1);
      expect((await credentials.get(record.id))!.status).toBe('active');
    } finally {
      server.handler = rotating.handler;
    }
  });
});

describe('a refused refresh token', () => {
  function route(model: string): RouteRequest {
    return {
      requestId: randomUUID(),
      clientFormat: 'claude',
      model,
      stream: false,
      sessionIds: [],
      headers: {},
      deadline: Date.now() + 60_000,
    };
  }

  it('takes the credential out of routing and of the refresh scan, but not out of the list, until a new login', async () => {
    const alias = `health-${randomUUID().slice(0, 8)}`;
    const healthy = await createLogin('claude', { alias });
    const revoked = await createLogin('claude', { alias });
    rotating.valid.delete(revoked.refreshToken); // revoked upstream

    // The snapshot the hot path reads; the worker republishes it when it marks a credential.
    const published = new PublishedCatalog(prisma, keyPrefix, redisUrl);
    const catalog = await published.publish();
    const store = new RoutingStateStore({ redisUrl, keyPrefix });
    const dispatcher = new DispatchService(catalog, store);
    const picked = async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const result = await dispatcher.dispatch(route(alias));
        if (!isForward(result)) throw new Error('expected an attempt to be dispatched');
        ids.add((result.data as { credentialId: string }).credentialId);
      }
      return ids;
    };
    try {
      // Both serve the model before the refresh.
      expect(await picked()).toEqual(new Set([healthy.record.id, revoked.record.id]));

      // Through the queue, as the scan would: invalid_grant marks it and announces the change.
      await queue.enqueue([revoked.record.id]);
      await waitFor(async () => (await credentials.get(revoked.record.id))!.status === 'needs_login');
      const row = (await credentials.get(revoked.record.id))!;
      expect(row.statusMessage).toBe('claude token endpoint answered 400 invalid_grant: Refresh token not found');
      await waitFor(() => changed.includes(revoked.record.id));

      // Routing (from the snapshot the worker republished before announcing): the model
      // registry and every pick leave it out; the list still has it.
      await catalog.reload();
      expect(catalog.snapshot.registry.lookup(alias).map((m) => m.credentialId)).toEqual([healthy.record.id]);
      expect(await picked()).toEqual(new Set([healthy.record.id]));
      expect(catalog.snapshot.byId.get(revoked.record.id)?.disabled).toBe(true);
      expect((await credentials.list({ source })).map((c) => c.id)).toContain(revoked.record.id);

      // The scheduler's state mirror does not overwrite the status with the routing state.
      await dispatcher.attemptsFinished([
        { credentialId: revoked.record.id, family: 'claude', baseModel: alias, ok: false, status: 500 },
      ]);
      const mirror = new StateMirror(store, credentials, 0);
      await mirror.flush();
      expect((await credentials.get(revoked.record.id))!.modelStates).not.toEqual({});
      await dispatcher.resetQuota(revoked.record.id); // the injected failure's cooldown
      expect((await credentials.get(revoked.record.id))!.status).toBe('needs_login');

      // The refresh worker leaves it alone, however often asked.
      const later = new Date(Date.now() + 10 * HOUR);
      expect(await refresherA.dueCredentialIds(later, { source })).not.toContain(revoked.record.id);
      expect(await refresherB.refresh(revoked.record.id, later)).toMatchObject({
        status: 'skipped',
        reason: 'not-due',
      });
      expect(presented(revoked.refreshToken)).toHaveLength(1);

      // A new login (a new secret written by import or management) brings it back.
      const relogin = `rt-${randomUUID()}`;
      rotating.seed(relogin);
      await credentials.update(row.id, row.version, { secret: { accessToken: 'at-relogin', refreshToken: relogin } });
      expect((await credentials.get(row.id))!).toMatchObject({ status: 'active', statusMessage: '', lastError: '' });
      await published.publish();
      expect(await picked()).toEqual(new Set([healthy.record.id, revoked.record.id]));
      expect(await refresherA.refresh(row.id)).toMatchObject({ status: 'refreshed' });
      expect(presented(relogin)).toHaveLength(1);
    } finally {
      await store.close();
      await published.close();
    }
  });
});
