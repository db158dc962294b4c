import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authFileCredentialId } from '@cpa/config';
import { CredentialRepository, PrismaService, SecretBox } from '@cpa/db';
import { REFRESH_FAILURE_BACKOFF_MS, tokenFingerprint } from '@cpa/providers';
import { CredentialRefreshService, type RefreshOutcome } from '@cpa/providers/refresh';
import { waitFor } from '@cpa/testing';
import { MockTokenServer, type MockTokenHandler } from '@cpa/testing';
import { HOUR, RefreshFixture } from './__fixtures__/refresh-fixture';
import { bullPrefix, REFRESH_QUEUE, RefreshQueueService, type RefreshJobData } from './refresh-queue.service';
import { RefreshWorkerModule } from './refresh-worker.module';

const fixture = new RefreshFixture(new MockTokenServer(), {
  prefix: 'rw',
  source: 'refresh-worker-test',
  expiresIn: 3600,
  families: ['claude', 'codex', 'gemini'],
});
const { redisUrl, keyPrefix, source, scripts, rotated, requestsFor } = fixture;
const replicas: INestApplicationContext[] = [];
let credentials: CredentialRepository;
let prisma: PrismaService;
let box: SecretBox;
let refresher: CredentialRefreshService;
let queueA: RefreshQueueService;
let queueB: RefreshQueueService;
let inspector: Queue<RefreshJobData>;

async function startReplica(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(
    RefreshWorkerModule.forRoot({ redisUrl, keyPrefix, scan: false, scanFilter: { source } }),
    { logger: false },
  );
  replicas.push(app);
  return app;
}

beforeAll(async () => {
  await fixture.start();
  const a = await startReplica();
  const b = await startReplica();
  credentials = a.get(CredentialRepository);
  prisma = a.get(PrismaService);
  box = a.get(SecretBox);
  refresher = a.get(CredentialRefreshService);
  queueA = a.get(RefreshQueueService);
  queueB = b.get(RefreshQueueService);
  inspector = new Queue(REFRESH_QUEUE, {
    connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
    prefix: bullPrefix(keyPrefix),
  });
});

afterAll(async () => {
  await prisma?.credential.deleteMany({ where: { source } });
  await inspector?.close();
  for (const app of replicas) await app.close();
  // Also leaves no BullMQ keys of this run behind.
  await fixture.stop();
});

beforeEach(() => {
  scripts.clear();
});

async function createOAuth(provider: string, expiresInMs: number, refreshToken = `rt-${randomUUID()}`) {
  const record = await credentials.create({
    provider,
    kind: 'oauth',
    source,
    label: `${provider} login`,
    expiresAt: new Date(Date.now() + expiresInMs),
    secret: { accessToken: `old-access-${refreshToken}`, refreshToken, tokenType: 'Bearer', projectId: 'kept' },
  });
  return { record, refreshToken };
}

/** A token endpoint that holds its answer until released, so concurrent triggers overlap. */
function gated(reply: Awaited<ReturnType<MockTokenHandler>>) {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  const handler: MockTokenHandler = async () => {
    await open;
    return reply;
  };
  return { handler, release };
}

describe('refresh worker (Postgres + Redis + BullMQ)', () => {
  it('a scan enqueues an expiring credential; the worker rotates its encrypted secret and announces it', async () => {
    const { record, refreshToken } = await createOAuth('claude', HOUR);
    const fresh = await createOAuth('claude', 8 * HOUR);
    scripts.set(refreshToken, () => ({
      status: 200,
      body: {
        access_token: 'sk-ant-oat-rotated',
        refresh_token: 'sk-ant-ort-rotated',
        expires_in: 28800,
        account: { email_address: 'me@example.com' },
      },
    }));

    const ids = (await queueA.scan()) ?? (await queueB.scan());
    expect(ids).toContain(record.id);
    expect(ids).not.toContain(fresh.record.id);

    await waitFor(() => rotated.includes(record.id));
    const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(row.secretEnc.startsWith('v1:')).toBe(true);
    expect(row.secretEnc).not.toContain('sk-ant');
    const secret = box.decryptJson<Record<string, unknown>>(row.secretEnc);
    expect(secret).toMatchObject({
      accessToken: 'sk-ant-oat-rotated',
      refreshToken: 'sk-ant-ort-rotated',
      tokenType: 'Bearer',
      projectId: 'kept',
      email: 'me@example.com',
      expiresAt: row.expiresAt!.toISOString(),
      lastRefreshAt: row.lastRefreshAt!.toISOString(),
    });
    // Claim (pending backoff) and the rotation each bump the optimistic-lock version.
    expect(row.version).toBe(record.version + 2);
    expect(row.expiresAt!.getTime() - row.lastRefreshAt!.getTime()).toBe(28800_000);
    expect(row.nextRefreshAt).toBeNull();
    expect(row.status).toBe('active');
    expect(row.lastError).toBe('');
    expect(row.account).toBe('me@example.com');

    const [request] = requestsFor(refreshToken);
    expect(request!.path).toBe('/claude');
    expect(request!.fields).toMatchObject({ grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(requestsFor(fresh.refreshToken)).toHaveLength(0);
  });

  it('only one replica scans per interval', async () => {
    const redis = new Redis(redisUrl);
    await redis.del(`${keyPrefix}refresh-worker:scan-lock`);
    redis.disconnect();
    const [a, b] = await Promise.all([queueA.scan(), queueB.scan()]);
    expect([a, b].filter((ids) => ids === null)).toHaveLength(1);
  });

  it('concurrent jobs on two replicas make one refresh per credential', async () => {
    const { record, refreshToken } = await createOAuth('codex', 2 * 24 * HOUR);
    const gate = gated({
      status: 200,
      body: { access_token: 'codex-new', refresh_token: 'codex-rt-new', expires_in: 864000 },
    });
    scripts.set(refreshToken, gate.handler);

    await Promise.all([
      queueA.enqueue([record.id]),
      queueB.enqueue([record.id]),
      queueA.enqueue([record.id]),
      queueB.enqueue([record.id]),
    ]);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    // The job id is the credential id: four enqueues from two replicas left one job.
    const jobs = await inspector.getJobs(['waiting', 'active', 'delayed']);
    expect(jobs.filter((job) => job.data.credentialId === record.id).map((job) => job.id)).toEqual([record.id]);
    gate.release();
    await waitFor(() => rotated.includes(record.id));

    expect(requestsFor(refreshToken)).toHaveLength(1);
    expect(rotated.filter((id) => id === record.id)).toHaveLength(1);
    const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(row.version).toBe(record.version + 2);
    expect(box.decryptJson<Record<string, unknown>>(row.secretEnc)).toMatchObject({
      accessToken: 'codex-new',
      refreshToken: 'codex-rt-new',
    });
  });

  it('concurrent direct refreshes: the claim lets exactly one reach the token endpoint', async () => {
    const { record, refreshToken } = await createOAuth('gemini-cli', 5 * 60_000);
    const gate = gated({ status: 200, body: { access_token: 'ya29.new', expires_in: 3599, token_type: 'Bearer' } });
    scripts.set(refreshToken, gate.handler);

    const pending = Array.from({ length: 5 }, () => refresher.refresh(record.id));
    await waitFor(() => requestsFor(refreshToken).length === 1);
    gate.release();
    const outcomes = await Promise.all(pending);

    expect(outcomes.filter((o) => o.status === 'refreshed')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'skipped')) {
      expect(['busy', 'not-due']).toContain((outcome as Extract<RefreshOutcome, { status: 'skipped' }>).reason);
    }
    expect(requestsFor(refreshToken)).toHaveLength(1);
    const secret = (await credentials.getSecret(record.id))!;
    // Google does not rotate refresh tokens: the one sent is kept.
    expect(secret).toMatchObject({ accessToken: 'ya29.new', refreshToken });
  });

  it('a refused refresh marks the credential as needing a login, records a token-free error and keeps the old secret', async () => {
    const { record, refreshToken } = await createOAuth('claude', HOUR);
    scripts.set(refreshToken, () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: `refresh token ${refreshToken} revoked` },
    }));
    const now = new Date();

    const outcome = await refresher.refresh(record.id, now);
    expect(outcome).toMatchObject({
      status: 'failed',
      permanent: true,
      retryAt: new Date(now.getTime() + REFRESH_FAILURE_BACKOFF_MS),
    });

    const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(row.nextRefreshAt).toEqual(new Date(now.getTime() + REFRESH_FAILURE_BACKOFF_MS));
    expect(row.status).toBe('needs_login');
    expect(row.statusMessage).toBe(
      'claude token endpoint answered 400 invalid_grant: refresh token [redacted] revoked',
    );
    expect(row.lastError).toBe('claude token endpoint answered 400 invalid_grant: refresh token [redacted] revoked');
    expect(row.lastError).not.toContain(refreshToken);
    expect(row.statusMessage).not.toContain(refreshToken);
    expect(box.decryptJson<Record<string, unknown>>(row.secretEnc)).toMatchObject({
      refreshToken,
      accessToken: `old-access-${refreshToken}`,
    });

    // Within the backoff nothing is attempted, from a scan or a job.
    expect(await refresher.refresh(record.id, new Date(now.getTime() + 60_000))).toMatchObject({
      status: 'skipped',
      reason: 'not-due',
    });
    expect(await refresher.dueCredentialIds(new Date(now.getTime() + 60_000), { source })).not.toContain(record.id);
    expect(requestsFor(refreshToken)).toHaveLength(1);

    // Nor after it: the refused token is not presented again until a new login is stored.
    const later = new Date(now.getTime() + REFRESH_FAILURE_BACKOFF_MS);
    expect(await refresher.dueCredentialIds(later, { source })).not.toContain(record.id);
    expect(await refresher.refresh(record.id, later)).toMatchObject({ status: 'skipped', reason: 'not-due' });
    expect(requestsFor(refreshToken)).toHaveLength(1);

    // A re-imported secret (a new login) makes it active and refreshable again.
    const relogin = `rt-${randomUUID()}`;
    await credentials.update(record.id, row.version, {
      secret: { accessToken: 'relogin-access', refreshToken: relogin },
    });
    const reset = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(reset).toMatchObject({ status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null });
    expect(await refresher.dueCredentialIds(later, { source })).toContain(record.id);
    expect(await refresher.refresh(record.id, later)).toMatchObject({ status: 'refreshed' });
    expect(requestsFor(relogin)).toHaveLength(1);
    const recovered = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(recovered).toMatchObject({ status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null });
  });

  it('a transient failure backs off without marking the credential as broken', async () => {
    const { record, refreshToken } = await createOAuth('codex', HOUR);
    scripts.set(refreshToken, () => ({ status: 503, body: 'maintenance' }));
    const outcome = await refresher.refresh(record.id);
    expect(outcome).toMatchObject({ status: 'failed', permanent: false, error: 'codex token endpoint answered 503' });
    const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
    expect(row.status).toBe('active');
    expect(row.lastError).toBe('codex token endpoint answered 503');
    expect(row.nextRefreshAt!.getTime()).toBeGreaterThan(Date.now());
  });

  it('an edit during the refresh is kept and the new tokens are still written', async () => {
    const { record, refreshToken } = await createOAuth('claude', HOUR);
    scripts.set(refreshToken, async () => {
      const current = (await credentials.get(record.id))!;
      await credentials.update(record.id, current.version, { label: 'renamed meanwhile' });
      return { status: 200, body: { access_token: 'after-edit', refresh_token: 'rt-after-edit', expires_in: 3600 } };
    });
    expect(await refresher.refresh(record.id)).toMatchObject({ status: 'refreshed' });
    const row = (await credentials.get(record.id))!;
    expect(row.label).toBe('renamed meanwhile');
    expect(await credentials.getSecret(record.id)).toMatchObject({
      accessToken: 'after-edit',
      refreshToken: 'rt-after-edit',
    });
  });

  it('when someone else stored new tokens meanwhile, theirs win', async () => {
    const { record, refreshToken } = await createOAuth('claude', HOUR);
    scripts.set(refreshToken, async () => {
      const current = (await credentials.get(record.id))!;
      await credentials.update(record.id, current.version, {
        secret: { accessToken: 'relogin', refreshToken: 'rt-relogin' },
      });
      return { status: 200, body: { access_token: 'ours', refresh_token: 'rt-ours', expires_in: 3600 } };
    });
    expect(await refresher.refresh(record.id)).toMatchObject({ status: 'skipped', reason: 'refreshed-elsewhere' });
    expect(await credentials.getSecret(record.id)).toEqual({ accessToken: 'relogin', refreshToken: 'rt-relogin' });
  });

  it('a credential whose expiry lives only in its secret is not refreshed early; the column is backfilled', async () => {
    const expiry = new Date(Date.now() + 8 * HOUR);
    const record = await credentials.create({
      provider: 'claude',
      kind: 'oauth',
      source,
      secret: { accessToken: 'a', refreshToken: `rt-${randomUUID()}`, expiresAt: expiry.toISOString() },
    });
    expect(await refresher.dueCredentialIds(new Date(), { source })).toContain(record.id);
    expect(await refresher.refresh(record.id)).toMatchObject({ status: 'skipped', reason: 'not-due' });
    expect((await credentials.get(record.id))!.expiresAt).toEqual(expiry);
    expect(await refresher.dueCredentialIds(new Date(), { source })).not.toContain(record.id);
  });

  it('shutting down waits for the refresh in flight and writes its tokens', async () => {
    // A replica on a queue of its own, so the job cannot land on the other replicas.
    const ownPrefix = `${keyPrefix}solo:`;
    const solo = await NestFactory.createApplicationContext(
      RefreshWorkerModule.forRoot({ redisUrl, keyPrefix: ownPrefix, scan: false, scanFilter: { source } }),
      { logger: false },
    );
    const { record, refreshToken } = await createOAuth('claude', HOUR);
    const gate = gated({
      status: 200,
      body: { access_token: 'drained', refresh_token: 'rt-drained', expires_in: 3600 },
    });
    scripts.set(refreshToken, gate.handler);

    await solo.get(RefreshQueueService).enqueue([record.id]);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    let closed = false;
    const closing = solo.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    gate.release();
    await closing;

    expect(await credentials.getSecret(record.id)).toMatchObject({
      accessToken: 'drained',
      refreshToken: 'rt-drained',
    });
  });

  /** The credentials of one gemini file with `projects`, all holding one refresh token. */
  async function createGeminiFile(projects: string[], expiresInMs = 60_000) {
    const fileName = `gemini-${randomUUID()}.json`;
    const refreshToken = `rt-${randomUUID()}`;
    const records = await Promise.all(
      projects.map((project) =>
        credentials.create({
          id: authFileCredentialId(fileName, project),
          provider: 'gemini-cli',
          kind: 'oauth',
          source,
          expiresAt: new Date(Date.now() + expiresInMs),
          attributes: { fileName, fileProjects: projects },
          secret: { accessToken: 'ya29.old', refreshToken, tokenType: 'Bearer', projectId: project },
        }),
      ),
    );
    return { records, refreshToken };
  }

  it("a gemini file's projects share one login: the winner's tokens reactivate a sibling that lost the race, and routing is told", async () => {
    // One Google login stored once per project; a rotating endpoint spent the shared refresh
    // token for the winner, so the sibling's own attempt was refused and marked it needs_login.
    const {
      records: [winner, sibling],
      refreshToken,
    } = await createGeminiFile(['proj-one', 'proj-two']);
    await credentials.update(sibling!.id, sibling!.version, {
      status: 'needs_login',
      statusMessage: 'invalid_grant',
      nextRefreshAt: new Date(Date.now() + HOUR),
    });
    scripts.set(refreshToken, () => ({
      status: 200,
      body: { access_token: 'ya29.shared', refresh_token: 'rt-rotated', expires_in: 3599 },
    }));

    await queueA.enqueue([winner!.id]);
    await waitFor(
      () => rotated.includes(winner!.id) && rotated.includes(sibling!.id) && fixture.changed.includes(sibling!.id),
    );

    const row = await prisma.credential.findUniqueOrThrow({ where: { id: sibling!.id } });
    expect(row).toMatchObject({ status: 'active', statusMessage: '', nextRefreshAt: null });
    expect(await credentials.getSecret(sibling!.id)).toMatchObject({
      accessToken: 'ya29.shared',
      refreshToken: 'rt-rotated',
      projectId: 'proj-two',
    });
    expect(await credentials.getSecret(winner!.id)).toMatchObject({
      accessToken: 'ya29.shared',
      refreshToken: 'rt-rotated',
      projectId: 'proj-one',
    });
    expect(requestsFor(refreshToken)).toHaveLength(1);
  });

  it("one claim covers a gemini file's projects: refreshing all of them at once presents the shared refresh token once", async () => {
    // A rotating endpoint refuses a spent token: a second presentation would mark a working
    // login as needing a new one.
    const { records, refreshToken } = await createGeminiFile(['proj-a', 'proj-b', 'proj-c']);
    const gate = gated({
      status: 200,
      body: { access_token: 'ya29.one-login', refresh_token: 'rt-next', expires_in: 3599 },
    });
    scripts.set(refreshToken, gate.handler);

    const pending = records.flatMap((record) => [refresher.refresh(record.id), refresher.refresh(record.id)]);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    gate.release();
    const outcomes = await Promise.all(pending);

    const refreshed = outcomes.filter((o) => o.status === 'refreshed');
    expect(refreshed).toHaveLength(1);
    const [winner] = refreshed as Array<Extract<RefreshOutcome, { status: 'refreshed' }>>;
    expect(new Set([winner!.credentialId, ...winner!.shared!])).toEqual(new Set(records.map((r) => r.id)));
    expect(outcomes.filter((o) => o.status === 'failed')).toEqual([]);
    expect(requestsFor(refreshToken)).toHaveLength(1);
    for (const record of records) {
      const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
      expect(row, record.id).toMatchObject({ status: 'active', nextRefreshAt: null });
      expect(await credentials.getSecret(record.id)).toMatchObject({
        accessToken: 'ya29.one-login',
        refreshToken: 'rt-next',
        projectId: (record.attributes.fileProjects as string[])[records.indexOf(record)],
      });
    }
  });

  it("a project's refresh-on-401 during its login's refresh waits for it and answers with the shared tokens", async () => {
    const {
      records: [first, second],
      refreshToken,
    } = await createGeminiFile(['proj-first', 'proj-second']);
    const gate = gated({
      status: 200,
      body: { access_token: 'ya29.waited-for', refresh_token: 'rt-after-wait', expires_in: 3599 },
    });
    scripts.set(refreshToken, gate.handler);

    const scheduled = refresher.refresh(first!.id);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    const onDemand = refresher.refreshRejected(second!.id, tokenFingerprint('ya29.old'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    gate.release();

    expect(await scheduled).toMatchObject({ status: 'refreshed', shared: [second!.id] });
    const current = await credentials.get(second!.id);
    expect(await onDemand).toEqual({ status: 'current', credentialId: second!.id, version: current!.version });
    expect(await credentials.getSecret(second!.id)).toMatchObject({ accessToken: 'ya29.waited-for' });
    expect(requestsFor(refreshToken)).toHaveLength(1);
  });

  it('a refused grant marks every project of the gemini file as needing a login, and routing is told of each', async () => {
    const { records, refreshToken } = await createGeminiFile(['proj-x', 'proj-y']);
    scripts.set(refreshToken, () => ({ status: 400, body: { error: 'invalid_grant' } }));

    const outcome = await refresher.refresh(records[0]!.id);
    expect(outcome).toMatchObject({ status: 'failed', permanent: true, shared: [records[1]!.id] });
    for (const record of records) {
      const row = await prisma.credential.findUniqueOrThrow({ where: { id: record.id } });
      expect(row, record.id).toMatchObject({ status: 'needs_login' });
      expect(row.lastError, record.id).toContain('invalid_grant');
    }
    expect(requestsFor(refreshToken)).toHaveLength(1);

    // Through a worker, the announcement names both.
    const again = await createGeminiFile(['proj-x', 'proj-y']);
    scripts.set(again.refreshToken, () => ({ status: 400, body: { error: 'invalid_grant' } }));
    await queueA.enqueue([again.records[1]!.id]);
    await waitFor(() => again.records.every((record) => fixture.changed.includes(record.id)));
  });

  it('skips API keys and unknown ids', async () => {
    const key = await credentials.create({
      provider: 'claude',
      kind: 'api_key',
      source,
      secret: { apiKey: 'sk-test' },
    });
    expect(await refresher.refresh(key.id)).toMatchObject({ status: 'skipped', reason: 'unsupported' });
    expect(await refresher.refresh(randomUUID())).toMatchObject({ status: 'skipped', reason: 'missing' });
  });
});
