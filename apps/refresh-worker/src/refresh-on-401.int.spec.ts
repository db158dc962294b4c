import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queueOf, Patterns } from '@cpa/contracts';
import { CredentialRepository, PrismaService } from '@cpa/db';
import { tokenFingerprint, TransportCredentialRefresher } from '@cpa/providers';
import { CredentialRefreshService } from '@cpa/providers/refresh';
import { waitFor } from '@cpa/testing';
import { createTransportServer, RedisTransportClient } from '@cpa/transport';
import { MockTokenServer } from '@cpa/testing';
import { HOUR, RefreshFixture } from './__fixtures__/refresh-fixture';
import { RefreshWorkerModule } from './refresh-worker.module';

// Executors asking the refresh-worker for new tokens after a 401, through the real transport.
const fixture = new RefreshFixture(new MockTokenServer(), {
  prefix: 'rw401',
  source: 'refresh-on-401-test',
  expiresIn: 28800,
  families: ['claude'],
});
const { redisUrl, keyPrefix, source, scripts, rotated, requestsFor } = fixture;
const workers: INestMicroservice[] = [];
const clients: RedisTransportClient[] = [];
let credentials: CredentialRepository;
let prisma: PrismaService;
let refresher: CredentialRefreshService;
/** Two executors, each with its own transport client. */
let executorA: TransportCredentialRefresher;
let executorB: TransportCredentialRefresher;

async function startWorker(): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(
    RefreshWorkerModule.forRoot({ redisUrl, keyPrefix, scan: false, scanFilter: { source } }),
    {
      strategy: createTransportServer({ redisUrl, keyPrefix, queues: [queueOf(Patterns.refresh)] }),
      logger: false,
    },
  );
  await app.listen();
  workers.push(app);
  return app;
}

function executor(): TransportCredentialRefresher {
  const client = new RedisTransportClient({ redisUrl, keyPrefix });
  clients.push(client);
  return new TransportCredentialRefresher(client, 10_000);
}

beforeAll(async () => {
  await fixture.start();
  const first = await startWorker();
  await startWorker();
  credentials = first.get(CredentialRepository);
  prisma = first.get(PrismaService);
  refresher = first.get(CredentialRefreshService);
  executorA = executor();
  executorB = executor();
});

afterAll(async () => {
  await prisma?.credential.deleteMany({ where: { source } });
  for (const client of clients) await client.close();
  for (const app of workers) await app.close();
  await fixture.stop();
});

beforeEach(() => scripts.clear());

/** A Claude login whose token is far from expiry: the scheduled refresh would leave it alone. */
async function createLogin() {
  const refreshToken = `rt-${randomUUID()}`;
  const accessToken = `oat-${randomUUID()}`;
  const record = await credentials.create({
    provider: 'claude',
    kind: 'oauth',
    source,
    expiresAt: new Date(Date.now() + 8 * HOUR),
    secret: { accessToken, refreshToken, tokenType: 'Bearer' },
  });
  return { record, accessToken, refreshToken };
}

const signal = () => new AbortController().signal;

describe('refresh-worker.refresh (Redis transport + Postgres)', () => {
  it('refreshes a refused token although it is not due, answers the new version and announces the rotation', async () => {
    const { record, accessToken, refreshToken } = await createLogin();
    scripts.set(refreshToken, () => ({
      status: 200,
      body: { access_token: 'oat-fresh', refresh_token: 'ort-fresh', expires_in: 28800 },
    }));

    const reply = await executorA.refreshRejected(record.id, tokenFingerprint(accessToken), signal());

    const row = (await credentials.get(record.id))!;
    expect(reply).toEqual({ ok: true, version: row.version });
    expect(row.version).toBeGreaterThan(record.version);
    expect(await credentials.getSecret(record.id)).toMatchObject({
      accessToken: 'oat-fresh',
      refreshToken: 'ort-fresh',
    });
    expect(requestsFor(refreshToken)).toHaveLength(1);
    await waitFor(() => rotated.includes(record.id));
  });

  it('many 401s from two executors about one token cost one token request', async () => {
    const { record, accessToken, refreshToken } = await createLogin();
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    scripts.set(refreshToken, async () => {
      await open;
      return { status: 200, body: { access_token: 'oat-once', refresh_token: 'ort-once', expires_in: 28800 } };
    });

    const fingerprint = tokenFingerprint(accessToken);
    const replies = Promise.all(
      [...Array(4)].flatMap(() =>
        [executorA, executorB].map((e) => e.refreshRejected(record.id, fingerprint, signal())),
      ),
    );
    await waitFor(() => requestsFor(refreshToken).length === 1);
    release();
    const all = await replies;

    // Each executor coalesces its own callers; the claim in Postgres lets one of the two
    // requests reach the token endpoint, the other waits for its tokens.
    expect(requestsFor(refreshToken)).toHaveLength(1);
    expect(all.every((r) => r.ok)).toBe(true);
    expect(await credentials.getSecret(record.id)).toMatchObject({ accessToken: 'oat-once' });
    // Asking again about the old token: it was rotated meanwhile, so no new refresh.
    expect(await executorB.refreshRejected(record.id, fingerprint, signal())).toEqual({
      ok: true,
      version: (await credentials.get(record.id))!.version,
    });
    expect(requestsFor(refreshToken)).toHaveLength(1);
  });

  it('a second replica finding the refresh claimed waits for its tokens instead of failing', async () => {
    const { record, accessToken, refreshToken } = await createLogin();
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    scripts.set(refreshToken, async () => {
      await open;
      return { status: 200, body: { access_token: 'oat-waited', expires_in: 28800 } };
    });
    const fingerprint = tokenFingerprint(accessToken);
    const holder = refresher.refreshRejected(record.id, fingerprint);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    const waiter = refresher.refreshRejected(record.id, fingerprint);
    release();
    expect(await holder).toMatchObject({ status: 'refreshed' });
    const version = (await credentials.get(record.id))!.version;
    expect(await waiter).toEqual({ status: 'current', credentialId: record.id, version });
    expect(requestsFor(refreshToken)).toHaveLength(1);
  });

  it('answers ok without a refresh when the stored token already differs from the refused one', async () => {
    const { record, refreshToken } = await createLogin();
    const reply = await executorA.refreshRejected(record.id, tokenFingerprint('an-older-token'), signal());
    expect(reply).toEqual({ ok: true, version: record.version });
    expect(requestsFor(refreshToken)).toHaveLength(0);
  });

  it('a refused refresh grant answers not ok with a message free of tokens and marks the credential', async () => {
    const { record, accessToken, refreshToken } = await createLogin();
    scripts.set(refreshToken, () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: `Refresh token ${refreshToken} revoked` },
    }));

    const reply = await executorA.refreshRejected(record.id, tokenFingerprint(accessToken), signal());

    expect(reply.ok).toBe(false);
    expect(reply.reason).toContain('invalid_grant');
    expect(reply.reason).not.toContain(refreshToken);
    expect((await credentials.get(record.id))!.status).toBe('needs_login');
    // Backing off after the failure: a second 401 does not hammer the token endpoint.
    expect(await executorB.refreshRejected(record.id, tokenFingerprint(accessToken), signal())).toEqual({
      ok: false,
      reason: 'not-due',
    });
    expect(requestsFor(refreshToken)).toHaveLength(1);
  });

  it('refuses API-key credentials, unknown ids and malformed requests', async () => {
    const key = await credentials.create({
      provider: 'claude',
      kind: 'api_key',
      source,
      secret: { apiKey: 'sk-test-401' },
    });
    expect(await executorA.refreshRejected(key.id, tokenFingerprint('sk-test-401'), signal())).toEqual({
      ok: false,
      reason: 'unsupported',
    });
    expect(await executorA.refreshRejected(randomUUID(), tokenFingerprint('x'), signal())).toEqual({
      ok: false,
      reason: 'missing',
    });
    const raw = await firstValueFrom(
      clients[0]!.request(Patterns.refresh, { credentialId: key.id, rejectedToken: 'sk-test-401' }),
    );
    expect(raw.meta).toEqual({ ok: false, reason: 'invalid refresh request' });
  });

  it('an executor whose request is cancelled stops waiting at once', async () => {
    const { record, accessToken, refreshToken } = await createLogin();
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    scripts.set(refreshToken, async () => {
      await open;
      return { status: 200, body: { access_token: 'oat-late', expires_in: 28800 } };
    });
    const controller = new AbortController();
    const pending = executorA.refreshRejected(record.id, tokenFingerprint(accessToken), controller.signal);
    await waitFor(() => requestsFor(refreshToken).length === 1);
    controller.abort();
    expect(await pending).toEqual({ ok: false, reason: 'request cancelled' });
    release();
    // The refresh itself still completes and is stored.
    await waitFor(async () => (await credentials.getSecret(record.id))?.accessToken === 'oat-late');
  });
});
