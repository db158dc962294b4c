import { CatalogStore, ClientKeyLimits, policyOf } from '@cpa/catalog';
import { Events } from '@cpa/contracts';
import { hashClientKey, UsageRequestRepository, type UsageRequestRecord } from '@cpa/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-client-keys';
const CONFIG_KEY = 'client-key-from-config-000000000000';
let admin: AdminUnderTest;

beforeAll(async () => {
  admin = await startAdminUnderTest({
    name: 'client-keys-test',
    configYaml: `api-keys: [${CONFIG_KEY}]\nremote-management:\n  secret-key: ${SECRET}\n`,
  });
});
afterAll(() => admin?.close());

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
  const response = await admin.app.inject({
    method,
    url: `/v0/management${path}`,
    headers: { authorization: `Bearer ${SECRET}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return { status: response.statusCode, body: response.json() as Record<string, unknown>, text: response.body };
}

/** One recorded request of a client key, as the usage drain writes it. */
const usageRecord = (clientKeyId: string, at: number, tokens: number): UsageRequestRecord => ({
  key: `${clientKeyId}-${at}-${tokens}`,
  requestId: 'r',
  at,
  clientKeyId,
  credentialId: 'c',
  family: 'claude',
  model: 'm',
  status: 200,
  latencyMs: 5,
  ttfbMs: null,
  inputTokens: tokens,
  outputTokens: 0,
  cachedTokens: 0,
  reasoningTokens: 0,
  attempts: 1,
});

async function snapshotKey(key: string) {
  const store = new CatalogStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', admin.prefix);
  try {
    const doc = await store.readNewer(0);
    return doc?.clientKeys.find((k) => k.hash === hashClientKey(key));
  } finally {
    store.onModuleDestroy();
  }
}

describe('/v0/management/client-keys', () => {
  it('lists config keys with no limits and their source', async () => {
    const { status, body } = await call('GET', '/client-keys');
    expect(status).toBe(200);
    const keys = body['client-keys'] as Record<string, unknown>[];
    expect(keys).toEqual([
      expect.objectContaining({
        models: [],
        rpm_limit: 0,
        tpm_limit: 0,
        daily_token_budget: 0,
        monthly_token_budget: 0,
        expires_at: null,
        disabled: false,
        source: 'config',
        last_used_at: null,
        usage: { requests_today: 0, tokens_today: 0, tokens_month: 0 },
      }),
    ]);
    expect(JSON.stringify(body)).not.toContain(CONFIG_KEY);
  });

  it('creates a key: shown once, stored hashed and encrypted, audited without it, published in the snapshot', async () => {
    const before = admin.events.length;
    const created = await call('POST', '/client-keys', {
      name: 'team',
      models: ['claude-*', 'gpt-4o'],
      rpm_limit: 5,
      tpm_limit: 1000,
      daily_token_budget: 10_000,
      monthly_token_budget: 200_000,
      expires_at: '2027-01-01T00:00:00Z',
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    const view = created.body['client-key'] as Record<string, unknown>;
    expect(view).toMatchObject({
      name: 'team',
      models: ['claude-*', 'gpt-4o'],
      rpm_limit: 5,
      tpm_limit: 1000,
      daily_token_budget: 10_000,
      monthly_token_budget: 200_000,
      expires_at: '2027-01-01T00:00:00.000Z',
      source: 'management',
    });

    const { rows } = await admin.db.raw.query('SELECT * FROM client_api_keys');
    expect(JSON.stringify(rows)).not.toContain(key);
    const audit = await admin.db.raw.query("SELECT details FROM audit_log WHERE action = 'client-key.create'");
    expect(audit.rows).toHaveLength(1);
    expect(JSON.stringify(audit.rows)).not.toContain(key);

    expect(await snapshotKey(key)).toMatchObject({
      id: view.id,
      models: ['claude-*', 'gpt-4o'],
      rpmLimit: 5,
      tpmLimit: 1000,
      dailyTokenBudget: 10_000,
      monthlyTokenBudget: 200_000,
      expiresAt: Date.UTC(2027, 0, 1),
    });
    expect(admin.events.slice(before).map((e) => e.pattern)).toContain(Events.configChanged);

    // The same key in CLIProxyAPI's list.
    const plain = await call('GET', '/api-keys');
    expect(plain.body['api-keys']).toEqual([CONFIG_KEY, key]);
  });

  it('refuses invalid bodies with 400 naming the field', async () => {
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', rpm_limit: -1 }, 'rpm_limit'],
      [{ name: 'x', daily_token_budget: 1.5 }, 'daily_token_budget'],
      [{ name: 'x', models: [''] }, 'models'],
      [{ name: 'x', expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: 'x', disabled: 'yes' }, 'disabled'],
      [{ name: 'x', key: 'sk-chosen' }, 'key'],
    ] as const) {
      const res = await call('POST', '/client-keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error, JSON.stringify(body)).toContain(field);
    }
    const created = await call('POST', '/client-keys', { name: 'patch me' });
    const id = (created.body['client-key'] as { id: string }).id;
    expect((await call('PATCH', `/client-keys/${id}`, {})).status).toBe(400);
    expect((await call('PATCH', `/client-keys/${id}`, { tpm_limit: 'many' })).status).toBe(400);
  });

  it('changes and deletes by id, records before and after, and answers 404 for unknown ids', async () => {
    const created = await call('POST', '/client-keys', { name: 'changing', rpm_limit: 1 });
    const key = created.body.key as string;
    const id = (created.body['client-key'] as { id: string }).id;
    const patched = await call('PATCH', `/client-keys/${id}`, { rpm_limit: 9, disabled: true, models: ['a', 'a'] });
    expect(patched.status).toBe(200);
    expect(patched.body['client-key']).toMatchObject({
      id,
      name: 'changing',
      rpm_limit: 9,
      disabled: true,
      models: ['a'],
    });
    expect(await snapshotKey(key)).toMatchObject({ disabled: true, rpmLimit: 9 });
    const audit = await admin.db.raw.query(
      "SELECT details FROM audit_log WHERE action = 'client-key.update' AND target = $1",
      [id],
    );
    expect(audit.rows[0].details).toMatchObject({
      before_rpmLimit: 1,
      rpmLimit: 9,
      before_disabled: false,
      disabled: true,
      before_models: [],
      models: ['a'],
    });
    expect(audit.rows[0].details).not.toHaveProperty('before_name');

    expect((await call('DELETE', `/client-keys/${id}`)).body).toEqual({ status: 'ok' });
    expect(await snapshotKey(key)).toBeUndefined();
    expect((await call('DELETE', `/client-keys/${id}`)).status).toBe(404);
    expect((await call('PATCH', `/client-keys/${id}`, { rpm_limit: 2 })).status).toBe(404);
  });

  it('takes a DELETE labelled JSON without a body, as panels send it, and still refuses broken JSON with 400', async () => {
    const id = ((await call('POST', '/client-keys', { name: 'labelled' })).body['client-key'] as { id: string }).id;
    const headers = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' };
    const deleted = await admin.app.inject({ method: 'DELETE', url: `/v0/management/client-keys/${id}`, headers });
    expect({ status: deleted.statusCode, body: deleted.json() }).toEqual({ status: 200, body: { status: 'ok' } });
    const broken = await admin.app.inject({
      method: 'POST',
      url: '/v0/management/client-keys',
      headers,
      payload: '{"name":',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toEqual({ error: expect.any(String) });
  });

  it('shows usage of the day and the month from the requests recorded in Postgres', async () => {
    const created = await call('POST', '/client-keys', { name: 'used' });
    const id = (created.body['client-key'] as { id: string }).id;
    const now = Date.now();
    await new UsageRequestRepository(admin.db.prisma).write([usageRecord(id, now - 1000, 40), usageRecord(id, now, 2)]);
    const listed = (await call('GET', '/client-keys')).body['client-keys'] as {
      id: string;
      usage: unknown;
      last_used_at: string | null;
    }[];
    const used = listed.find((k) => k.id === id)!;
    expect(used.usage).toEqual({ requests_today: 2, tokens_today: 42, tokens_month: 42 });
    expect(used.last_used_at).toBe(new Date(now).toISOString());
  });

  it('counts what a key spent before it got a budget against that budget', async () => {
    const limits = new ClientKeyLimits(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', admin.prefix);
    try {
      const created = await call('POST', '/client-keys', { name: 'budget later', rpm_limit: 100 });
      const id = (created.body['client-key'] as { id: string }).id;
      await new UsageRequestRepository(admin.db.prisma).write([usageRecord(id, Date.now(), 70)]);
      // No token limit yet: nothing was charged in Redis.
      const open = policyOf({ dailyTokenBudget: 100 });
      expect((await limits.admit(id, open)).counters).toMatchObject({ dayTokens: 0, monthTokens: 0 });

      expect((await call('PATCH', `/client-keys/${id}`, { daily_token_budget: 100 })).status).toBe(200);
      expect((await limits.admit(id, open)).counters).toMatchObject({ dayTokens: 70, monthTokens: 70 });
      // Charged since: counters only grow (a later change of the budget does not count again).
      await limits.charge([{ clientKeyId: id, tokens: 40 }]);
      expect((await call('PATCH', `/client-keys/${id}`, { daily_token_budget: 200 })).status).toBe(200);
      const after = await limits.admit(id, open);
      expect(after.counters).toMatchObject({ dayTokens: 110, monthTokens: 110 });
      expect(after.refusal).toMatchObject({ kind: 'daily_budget', used: 110 });
    } finally {
      limits.onModuleDestroy();
    }
  });
});
