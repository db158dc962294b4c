/**
 * The console's endpoints (GET /credentials, GET /audit-log) and its static assets at
 * /admin, against a real admin on its own database and Redis prefix.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditLogPage, CredentialView } from '@cpa/contracts/management-views';
import { TOKEN_FILE_SAMPLES, writeTokenFiles } from '@cpa/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-console';
const CLAUDE_KEY = 'sk-ant-api03-console-claude-key-bbbbbbb';
const TOKEN_FILE = 'claude-user@example.com.json';
const ASSET = 'console-test-asset.js';

let admin: AdminUnderTest;
const consoleDir = mkdtempSync(join(tmpdir(), 'cpa-console-assets-'));

beforeAll(async () => {
  mkdirSync(join(consoleDir, 'assets'));
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(consoleDir, 'assets', ASSET), 'console.log("console")');
  process.env.CONSOLE_DIR = consoleDir;
  admin = await startAdminUnderTest({
    name: 'admin-console',
    configYaml: `claude-api-key:\n  - api-key: ${CLAUDE_KEY}\n    prefix: team\nremote-management:\n  secret-key: ${SECRET}\n`,
    prepare: (dir) => writeTokenFiles(join(dir, 'auths'), { [TOKEN_FILE]: TOKEN_FILE_SAMPLES[TOKEN_FILE] }),
    env: (dir) => ({ AUTH_DIR: join(dir, 'auths') }),
  });
});

afterAll(async () => {
  delete process.env.CONSOLE_DIR;
  await admin?.close();
});

async function call(method: 'GET' | 'PUT' | 'PATCH', path: string, body?: unknown, secret: string | null = SECRET) {
  const response = await admin.app.inject({
    method,
    url: path.startsWith('/admin') ? path : `/v0/management${path}`,
    headers: {
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    payload: body === undefined ? undefined : JSON.stringify(body),
    remoteAddress: '127.0.0.1',
  });
  return {
    status: response.statusCode,
    text: response.body,
    headers: response.headers,
    json: () => response.json() as Record<string, unknown>,
  };
}

async function credentials(): Promise<CredentialView[]> {
  const response = await call('GET', '/credentials');
  expect(response.status).toBe(200);
  expect(response.text).not.toContain(CLAUDE_KEY);
  expect(response.text).not.toContain('sk-ant-oat01');
  return response.json().credentials as CredentialView[];
}

describe('GET /v0/management/credentials', () => {
  it('needs the management secret', async () => {
    expect((await call('GET', '/credentials', undefined, null)).status).toBe(401);
    expect((await call('GET', '/credentials', undefined, 'wrong-secret')).status).toBe(401);
  });

  it('lists the configured API key and the imported token file, both active', async () => {
    const list = await credentials();
    const apiKey = list.find((c) => c.kind === 'api-key');
    const oauth = list.find((c) => c.kind === 'oauth');
    expect(apiKey).toMatchObject({
      family: 'claude',
      status: 'active',
      disabled: false,
      prefix: 'team',
      token_file: null,
      cooldowns: [],
    });
    expect(oauth).toMatchObject({ family: 'claude', status: 'active', token_file: TOKEN_FILE });
  });

  it("shows cooldowns, a needed login, a disabled credential and today's usage from Postgres", async () => {
    const [apiKey, oauth] = [
      (await credentials()).find((c) => c.kind === 'api-key')!,
      (await credentials()).find((c) => c.kind === 'oauth')!,
    ];
    const until = Date.now() + 10 * 60_000;
    await admin.db.prisma.credential.update({
      where: { id: apiKey.id },
      data: {
        modelStates: {
          'claude-sonnet': {
            status: 'error',
            unavailable: true,
            nextRetryAfter: until,
            quota: { exceeded: true, reason: 'quota', nextRecoverAt: until, backoffLevel: 1 },
          },
        },
      },
    });
    await admin.db.prisma.credential.update({
      where: { id: oauth.id },
      data: { status: 'needs_login', statusMessage: 'refresh token was revoked' },
    });
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    await admin.db.prisma.usageDaily.createMany({
      data: [
        {
          day: today,
          credentialId: apiKey.id,
          model: 'claude-sonnet',
          requests: 3,
          failures: 1,
          inputTokens: 100n,
          outputTokens: 40n,
        },
        {
          day: new Date(today.getTime() - 86_400_000),
          credentialId: apiKey.id,
          model: 'claude-sonnet',
          requests: 50,
          inputTokens: 5000n,
          outputTokens: 5000n,
        },
      ],
    });

    let list = await credentials();
    expect(list.find((c) => c.id === apiKey.id)).toMatchObject({
      status: 'cooling',
      cooldowns: [{ model: 'claude-sonnet', until: new Date(until).toISOString(), reason: 'quota exceeded (429)' }],
      requests_today: 3,
      tokens_today: 140,
    });
    expect(list.find((c) => c.id === oauth.id)).toMatchObject({
      status: 'needs_login',
      last_error: 'refresh token was revoked',
    });

    expect((await call('PATCH', '/auth-files/status', { auth_index: apiKey.id, disabled: true })).status).toBe(200);
    list = await credentials();
    expect(list.find((c) => c.id === apiKey.id)).toMatchObject({ status: 'disabled', disabled: true });
  });
});

describe('GET /v0/management/audit-log', () => {
  it('needs the management secret and refuses a bad query', async () => {
    expect((await call('GET', '/audit-log', undefined, null)).status).toBe(401);
    const bad = await call('GET', '/audit-log?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: expect.stringContaining('limit') });
    expect((await call('GET', '/audit-log?before_id=abc')).status).toBe(400);
  });

  it('shows a setting change with the value before and after, newest first', async () => {
    const before = (await call('GET', '/routing/strategy')).json().strategy;
    const next = before === 'fill-first' ? 'round-robin' : 'fill-first';
    expect((await call('PUT', '/routing/strategy', { value: next })).status).toBe(200);
    const page = (await call('GET', '/audit-log?limit=5')).json() as unknown as AuditLogPage;
    expect(page.entries[0]).toMatchObject({
      action: 'setting.update',
      target: 'routing.strategy',
      before: { value: before },
      after: { value: next },
    });
    const ids = page.entries.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a > b ? -1 : 1))).toEqual(ids);
  });

  it('shows an enable/disable with its before and after', async () => {
    const entries = ((await call('GET', '/audit-log')).json() as unknown as AuditLogPage).entries;
    expect(entries.find((e) => e.action === 'credential.disable')).toMatchObject({
      before: { disabled: false },
      after: { disabled: true },
    });
  });

  it('pages backwards with before_id until the first entry', async () => {
    const all = ((await call('GET', '/audit-log?limit=500')).json() as unknown as AuditLogPage).entries.map(
      (e) => e.id,
    );
    expect(all.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (
        await call('GET', `/audit-log?limit=2${cursor ? `&before_id=${cursor}` : ''}`)
      ).json() as unknown as AuditLogPage;
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.next_before_id;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it('never shows an API key that was added', async () => {
    const added = 'sk-ant-api03-added-through-console-cccccc';
    const list = ((await call('GET', '/claude-api-key')).json()['claude-api-key'] as Record<string, unknown>[]).map(
      ({ 'auth-index': _, ...entry }) => entry,
    );
    expect((await call('PUT', '/claude-api-key', [...list, { 'api-key': added }])).status).toBe(200);
    const text = (await call('GET', '/audit-log?limit=500')).text;
    expect(text).toContain('claude-api-key.put');
    expect(text).not.toContain(added);
    expect(text).not.toContain(CLAUDE_KEY);
    expect(text).not.toContain(SECRET);
  });
});

describe('the console at /admin', () => {
  it('serves its assets without the secret and every page as index.html', async () => {
    const root = await call('GET', '/admin', undefined, null);
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/admin/');
    for (const page of ['/admin/', '/admin/credentials', '/admin/usage/deep/link']) {
      const response = await call('GET', page, undefined, null);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toContain('text/html');
      expect(response.text).toContain('<div id="root">');
    }
    const asset = await call('GET', `/admin/assets/${ASSET}`, undefined, null);
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
    expect(asset.text).toBe('console.log("console")');
  });

  it('leaves the management API behind its secret', async () => {
    expect((await call('GET', '/config', undefined, null)).status).toBe(401);
  });
});
