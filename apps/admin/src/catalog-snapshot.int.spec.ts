/**
 * The catalog snapshot the admin publishes for the hot path: what is in it (encrypted
 * secrets and key hashes, never plaintext), that it is written before the change event,
 * that readers take only newer generations, and that Postgres and Redis outages are met
 * with 503 and retries rather than crashes.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog, CatalogPublisher, CatalogStore, catalogDocumentOf } from '@cpa/catalog';
import { loadEnv } from '@cpa/config';
import { Events } from '@cpa/contracts';
import { CatalogSourceRepository, hashClientKey } from '@cpa/db';
import { SecretStore } from '@cpa/providers';
import { CuttableTcpForwarder, TestRedisServer, waitFor } from '@cpa/testing';
import { decodeRequest, transportKeys } from '@cpa/transport';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { createAdminApp } from './app';

const SECRET = 'snapshot-management-secret';
const CLIENT_KEY = 'sk-snapshot-client-000000000000';
const CLAUDE_KEY = 'sk-ant-snapshot-upstream-0000000000';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}snapshot:${randomUUID()}:`;

let db: TestDatabase;
let postgres: CuttableTcpForwarder;
let app: NestFastifyApplication;
let redis: Redis;
let store: CatalogStore;

beforeAll(async () => {
  db = await createTestDatabase('cpa_snapshot_test');
  const direct = new URL(db.url);
  postgres = await CuttableTcpForwarder.start({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaForwarder = new URL(db.url);
  viaForwarder.port = String(postgres.port);
  const dir = mkdtempSync(join(tmpdir(), 'cpa-snapshot-'));
  writeFileSync(
    join(dir, 'config.yaml'),
    `api-keys: [${CLIENT_KEY}]\nclaude-api-key:\n  - api-key: ${CLAUDE_KEY}\nremote-management:\n  secret-key: ${SECRET}\n`,
  );
  const env = loadEnv(
    {
      DATABASE_URL: viaForwarder.toString(),
      REDIS_URL: redisUrl,
      TRANSPORT_KEY_PREFIX: prefix,
      CONFIG_FILE: join(dir, 'config.yaml'),
    },
    dir,
  );
  app = await createAdminApp(env, { secretBox: db.box, logger: false });
  redis = new Redis(redisUrl);
  store = new CatalogStore(redisUrl, prefix);
});

afterAll(async () => {
  await postgres?.restore();
  await app?.close();
  store?.onModuleDestroy();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis?.quit();
  await postgres?.cut();
  await db?.close();
});

const manage = (method: 'GET' | 'PUT', url: string, payload?: unknown) =>
  app.inject({
    method,
    url: `/v0/management${url}`,
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    payload: payload === undefined ? undefined : JSON.stringify(payload),
  });

async function readerOf(s: CatalogStore = store): Promise<Catalog> {
  const catalog = new Catalog(s);
  await catalog.reload();
  return catalog;
}

describe('the published snapshot', () => {
  it('holds credentials with their encrypted secret and version, settings and client-key hashes, never plaintext', async () => {
    const json = (await redis.hget(`${prefix}catalog:doc`, 'doc'))!;
    expect(json).toBeTruthy();
    expect(json).not.toContain(CLAUDE_KEY);
    expect(json).not.toContain(CLIENT_KEY);
    expect(json).not.toContain(SECRET);

    const catalog = await readerOf();
    expect(catalog.loaded).toBe(true);
    const claude = catalog.snapshot.credentials.find((c) => c.provider === 'claude')!;
    expect(catalog.snapshot.secrets.get(claude.id)).toMatchObject({
      version: claude.version,
      secretEnc: expect.stringMatching(/^v1:/),
    });
    expect(catalog.snapshot.clientKeys.get(hashClientKey(CLIENT_KEY))).toMatchObject({ disabled: false });
    // An executor opens it with the secret key alone.
    expect(await new SecretStore(catalog, db.box).get(claude)).toEqual({ apiKey: CLAUDE_KEY });
  });

  it('is published before the change event, so a pod reloading on the event sees the change', async () => {
    const subscriber = new Redis(redisUrl);
    const seen: number[] = [];
    const newKey = `sk-snapshot-added-${randomUUID()}`;
    try {
      await subscriber.subscribe(transportKeys.event(prefix, Events.configChanged));
      subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
        if (decodeRequest(message).pattern !== Events.configChanged) return;
        // What a pod reads when the event arrives.
        void redis.hget(`${prefix}catalog:doc`, 'doc').then((json) => {
          const doc = JSON.parse(json!) as { generation: number; clientKeys: { hash: string }[] };
          if (doc.clientKeys.some((k) => k.hash === hashClientKey(newKey))) seen.push(doc.generation);
        });
      });
      const before = await store.generation();
      expect((await manage('PUT', '/api-keys', [CLIENT_KEY, newKey])).statusCode).toBe(200);
      await waitFor(() => seen.length > 0, 5_000);
      expect(seen[0]).toBeGreaterThan(before);
    } finally {
      await subscriber.quit();
    }
  });

  it('is replaced only by a newer generation, and readers ignore an older one', async () => {
    const catalog = await readerOf();
    const current = catalog.snapshot.generation;
    const rows = await new CatalogSourceRepository(db.prisma).read();
    expect(await store.write(catalogDocumentOf({ ...rows, clientKeys: [] }, current - 1))).toBe(false);
    await catalog.reload();
    expect(catalog.snapshot.generation).toBe(current);
    expect(catalog.snapshot.clientKeys.size).toBeGreaterThan(0);
    // Concurrent publishes: every one ends with the newest data on top.
    const publisher = new CatalogPublisher(new CatalogSourceRepository(db.prisma), store);
    const generations = await Promise.all([publisher.publish(), publisher.publish(), publisher.publish()]);
    expect(await store.generation()).toBe(Math.max(...generations));
  });
});

describe('outages', () => {
  it('answers management with 503 {"error":"database unavailable"} at once while Postgres is down; the snapshot stays readable', async () => {
    await postgres.cut();
    try {
      const started = Date.now();
      const res = await manage('GET', '/config');
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: 'database unavailable' });
      const catalog = await readerOf();
      expect(catalog.snapshot.clientKeys.get(hashClientKey(CLIENT_KEY))).toBeDefined();
    } finally {
      await postgres.restore();
    }
    await waitFor(async () => (await manage('GET', '/config')).statusCode === 200, 10_000, 100);
  });

  it('starts a catalog without Redis (empty, no crash) and loads once Redis is up and the admin republished', async () => {
    const own = await TestRedisServer.start();
    await own.kill();
    const ownStore = new CatalogStore(own.url, prefix);
    const catalog = new Catalog(ownStore);
    const started = Date.now();
    await catalog.onModuleInit();
    try {
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(catalog.loaded).toBe(false);
      await own.restart();
      const publisherStore = new CatalogStore(own.url, prefix);
      const publisher = new CatalogPublisher(new CatalogSourceRepository(db.prisma), publisherStore);
      await publisher.onApplicationBootstrap(); // what the admin does at start and after Redis lost the snapshot
      await waitFor(() => catalog.loaded, 10_000, 50);
      expect(catalog.snapshot.clientKeys.get(hashClientKey(CLIENT_KEY))).toBeDefined();
      publisher.onModuleDestroy();
      publisherStore.onModuleDestroy();
    } finally {
      catalog.onModuleDestroy();
      ownStore.onModuleDestroy();
      await own.kill();
    }
  });
});
