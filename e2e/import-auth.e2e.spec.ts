/**
 * `npm run import-auth` as an operator runs it: a real process importing a CLIProxyAPI auth
 * directory into Postgres, printing what it did per file, idempotent on a second run, and
 * broadcasting the change so running pods reload.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Events } from '@cpa/contracts';
import { BROKEN_TOKEN_FILES, TOKEN_FILE_SAMPLES, waitFor, writeTokenFiles } from '@cpa/testing';
import { decodeRequest, transportKeys } from '@cpa/transport';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { importAuthLines as lines, runImportAuth } from './import-auth-command';

let db: TestDatabase;
let dir: string;
let subscriber: Redis;
const prefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}import-auth:`;
const events: { pattern: string; data: unknown }[] = [];

beforeAll(async () => {
  db = await createTestDatabase('cpa_import_auth_e2e');
  dir = mkdtempSync(join(tmpdir(), 'cpa-import-auth-'));
  writeTokenFiles(dir, { ...TOKEN_FILE_SAMPLES, 'broken.json': BROKEN_TOKEN_FILES['claude-without-tokens.json'] });
  subscriber = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  await subscriber.psubscribe(transportKeys.event(prefix, '*'));
  subscriber.on('pmessageBuffer', (_p: Buffer, _c: Buffer, message: Buffer) => {
    const request = decodeRequest(message);
    events.push({ pattern: request.pattern, data: request.data });
  });
});

afterAll(async () => {
  await subscriber?.quit();
  await db?.close();
});

const importAuth = (...args: string[]) =>
  runImportAuth({ DATABASE_URL: db.url, TRANSPORT_KEY_PREFIX: prefix }, ...args);

describe('npm run import-auth', () => {
  it('imports a directory, prints one line per file, refuses the broken one, and broadcasts', async () => {
    const run = await importAuth(dir);
    expect(run.code).toBe(1); // one file was refused
    expect(lines(run.stdout).sort()).toEqual(
      [
        'created    antigravity-ag-user@gmail.com.json',
        'created    claude-routed@example.com.json',
        'created    claude-user@example.com.json',
        'created    codex-codex-user@example.com-plus.json',
        'created    gemini-team@gmail.com-all.json (3 credentials)',
        'created    gemini-user@gmail.com-my-project.json',
        'created    iflow-cookie-user.json',
        'created    iflow-iflow-user@example.com.json',
        'created    kimi-1893456000000.json',
        'created    vertex-my-gcp-project.json',
        'error      broken.json: access_token or refresh_token is required',
      ].sort(),
    );
    expect(run.stdout).toContain('11 files: 10 created, 0 updated, 0 unchanged, 1 errors');
    expect(run.stdout + run.stderr).not.toContain('sk-ant-oat01');

    const rows = await db.prisma.credential.findMany();
    expect(rows).toHaveLength(Object.keys(TOKEN_FILE_SAMPLES).length + 2);
    expect(new Set(rows.map((r) => r.source))).toEqual(new Set(['auth-file']));
    const claude = rows.find((r) => r.id === 'claude-user@example.com.json')!;
    expect(JSON.parse(db.box.decrypt(claude.secretEnc))).toMatchObject({
      accessToken: TOKEN_FILE_SAMPLES['claude-user@example.com.json'].access_token,
    });

    await waitFor(() => events.some((e) => e.pattern === Events.configChanged), 5_000);
    const event = events.find((e) => e.pattern === Events.configChanged)!;
    expect(event.data).toMatchObject({
      sections: ['auth-files'],
      credentialIds: expect.arrayContaining(['claude-user@example.com.json']),
    });
    expect(await db.prisma.auditLog.count({ where: { actor: 'import-auth', action: 'auth-files.import' } })).toBe(1);
  });

  it('changes nothing on a second run, and updates a changed file given by path', async () => {
    const before = await db.prisma.credential.findMany({ orderBy: { id: 'asc' } });
    const again = await importAuth(dir);
    expect(lines(again.stdout).filter((line) => line.startsWith('unchanged'))).toHaveLength(
      Object.keys(TOKEN_FILE_SAMPLES).length,
    );
    expect(await db.prisma.credential.findMany({ orderBy: { id: 'asc' } })).toEqual(before);

    const [changed] = writeTokenFiles(mkdtempSync(join(tmpdir(), 'cpa-import-one-')), {
      'claude-user@example.com.json': {
        ...TOKEN_FILE_SAMPLES['claude-user@example.com.json'],
        refresh_token: 'new-refresh',
      },
    });
    const single = await importAuth(changed);
    expect(single.code).toBe(0);
    expect(lines(single.stdout)).toEqual(['updated    claude-user@example.com.json']);
  });

  it('reports a missing path and prints usage without arguments', async () => {
    const missing = await importAuth(join(dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('cannot read (ENOENT)');
    const usage = await importAuth();
    expect(usage.code).toBe(2);
    expect(usage.stdout).toContain('usage: npm run import-auth');
  });
});
