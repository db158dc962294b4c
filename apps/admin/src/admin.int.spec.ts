import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { credentialId, SettingKeys } from '@cpa/config';
import { Events } from '@cpa/contracts';
import { KEPT_SECRET_WARNING } from '@cpa/management';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { TestDatabase } from '@cpa/db/testing';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-tests';
const CLAUDE_KEY_1 = 'sk-ant-api03-first-claude-key-aaaaaaaa';
const CLAUDE_KEY_2 = 'sk-ant-api03-second-claude-key-bbbbbbb';

let admin: AdminUnderTest;
let db: TestDatabase;
let app: NestFastifyApplication;
let redis: Redis;
let prefix: string;
let events: AdminUnderTest['events'];

beforeAll(async () => {
  admin = await startAdminUnderTest({
    name: 'admin-test',
    configYaml: `api-keys: [client-key-from-file-0000000000]\nclaude-api-key:\n  - api-key: ${CLAUDE_KEY_1}\nremote-management:\n  secret-key: ${SECRET}\nsurprise: true\n`,
  });
  ({ db, app, redis, prefix, events } = admin);
});

afterAll(() => admin?.close());

type Method = 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST';
interface CallOptions {
  key?: string | null;
  header?: 'bearer' | 'x-management-key';
  ip?: string;
  headers?: Record<string, string>;
  rawBody?: string;
}

async function call(method: Method, path: string, body?: unknown, options: CallOptions = {}) {
  const key = options.key === undefined ? SECRET : options.key;
  const headers: Record<string, string> = { ...options.headers };
  if (key !== null) {
    if (options.header === 'x-management-key') headers['x-management-key'] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  if (body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
  const response = await app.inject({
    method,
    url: path.startsWith('/healthz') ? path : `/v0/management${path}`,
    headers,
    payload: options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    remoteAddress: options.ip ?? '127.0.0.1',
  });
  return { status: response.statusCode, body: response.body ? response.json() : undefined };
}

/** Waits for a broadcast published after `since` events had arrived. */
async function eventAfter(since: number, pattern: string): Promise<{ pattern: string; data: unknown }> {
  for (let i = 0; i < 100; i++) {
    const found = events.slice(since).find((e) => e.pattern === pattern);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no ${pattern} broadcast arrived`);
}

describe('start-up', () => {
  it('imported CONFIG_FILE and broadcast config.changed', async () => {
    expect(await db.prisma.credential.count({ where: { source: 'config' } })).toBe(1);
    const event = await eventAfter(0, Events.configChanged);
    expect(event.data).toMatchObject({ sections: ['import'] });
  });

  it('serves /healthz outside the prefix without a key', async () => {
    expect(await call('GET', '/healthz', undefined, { key: null })).toEqual({ status: 200, body: { status: 'ok' } });
  });
});

describe('authentication', () => {
  it('answers 401 for a missing key and for a wrong key', async () => {
    expect(await call('GET', '/config', undefined, { key: null })).toEqual({
      status: 401,
      body: { error: 'missing management key' },
    });
    expect(await call('GET', '/config', undefined, { key: 'wrong', ip: '127.0.0.9' })).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
  });

  it('accepts the key as Bearer and as X-Management-Key', async () => {
    expect((await call('GET', '/config')).status).toBe(200);
    expect((await call('GET', '/config', undefined, { header: 'x-management-key' })).status).toBe(200);
  });

  it('refuses remote callers unless allow-remote is set, also behind the gateway', async () => {
    expect(await call('GET', '/config', undefined, { ip: '203.0.113.5' })).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
    expect(
      await call('GET', '/config', undefined, { ip: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } }),
    ).toEqual({ status: 403, body: { error: 'remote management disabled' } });
    await db.prisma.setting.create({ data: { key: SettingKeys.allowRemoteManagement, value: true } });
    try {
      expect((await call('GET', '/config', undefined, { ip: '203.0.113.5' })).status).toBe(200);
    } finally {
      await db.prisma.setting.delete({ where: { key: SettingKeys.allowRemoteManagement } });
    }
  });

  it('bans an IP for 30 minutes after 5 failures, in Redis, even for the right key', async () => {
    const ip = '127.0.0.77';
    for (let i = 0; i < 5; i++)
      expect((await call('GET', '/config', undefined, { key: `guess-${i}`, ip })).status).toBe(401);
    const banned = await call('GET', '/config', undefined, { ip });
    expect(banned.status).toBe(403);
    expect((banned.body as { error: string }).error).toMatch(/too many failed attempts/);
    const ttl = await redis.pttl(`${prefix}mgmt:ban:${ip}`);
    expect(ttl).toBeGreaterThan(29 * 60 * 1000);
    expect(ttl).toBeLessThanOrEqual(30 * 60 * 1000);
    expect((await call('GET', '/config', undefined, { ip: '127.0.0.78' })).status).toBe(200);
  });

  it('counts guesses before verifying them: a concurrent burst gets at most five verdicts, then the ban', async () => {
    const ip = '127.0.0.79';
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('GET', '/config', undefined, { key: `burst-${i}`, ip })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 403)).toHaveLength(15);
    expect(await redis.pttl(`${prefix}mgmt:ban:${ip}`)).toBeGreaterThan(29 * 60 * 1000);
  });

  it('believes X-Forwarded-For only from loopback or TRUSTED_PROXIES, not from any private peer', async () => {
    // A host on the same private network claiming to forward for localhost stays a remote caller.
    expect(
      await call('GET', '/config', undefined, { ip: '10.1.2.3', headers: { 'x-forwarded-for': '127.0.0.1' } }),
    ).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
    expect(
      await call('GET', '/config', undefined, { ip: '192.168.7.7', headers: { 'x-forwarded-for': '127.0.0.1' } }),
    ).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
  });

  it('marks every management answer no-store', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v0/management/config',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const refused = await app.inject({ method: 'GET', url: '/v0/management/config' });
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('does not exist (404) when no management secret is configured', async () => {
    const stored = await db.prisma.setting.findUniqueOrThrow({ where: { key: SettingKeys.managementSecretHash } });
    await db.prisma.setting.delete({ where: { key: SettingKeys.managementSecretHash } });
    try {
      expect((await call('GET', '/config')).status).toBe(404);
      expect((await call('GET', '/api-keys', undefined, { key: null })).status).toBe(404);
    } finally {
      await db.prisma.setting.create({ data: { key: stored.key, value: stored.value as string } });
    }
  });
});

describe('GET /config', () => {
  it('returns the stored configuration in CLIProxyAPI shape', async () => {
    const { body } = await call('GET', '/config');
    expect(body).toMatchObject({
      'api-keys': ['client-key-from-file-0000000000'],
      'claude-api-key': [{ 'api-key': CLAUDE_KEY_1, 'auth-index': credentialId('claude', '', CLAUDE_KEY_1) }],
    });
  });
});

describe('/api-keys', () => {
  const stored = async () =>
    (await db.prisma.clientApiKey.findMany({ orderBy: { position: 'asc' } })).map((k) => k.keyPreview);

  it('PUT replaces the list (raw array), persists hashed keys and broadcasts config.changed', async () => {
    const since = events.length;
    expect(await call('PUT', '/api-keys', ['key-one-1111111111111111111', 'key-two-2222222222222222222'])).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
    expect((await call('GET', '/api-keys')).body).toEqual({
      'api-keys': ['key-one-1111111111111111111', 'key-two-2222222222222222222'],
    });
    const rows = await db.raw.query('SELECT * FROM client_api_keys');
    expect(rows.rowCount).toBe(2);
    expect(JSON.stringify(rows.rows)).not.toContain('key-one-1111111111111111111');
    const event = await eventAfter(since, Events.configChanged);
    expect(event.data).toMatchObject({ sections: ['api-keys'] });
  });

  it('PUT takes {"items": [...]} and rejects an empty items list', async () => {
    expect(
      (
        await call('PUT', '/api-keys', {
          items: ['key-a-aaaaaaaaaaaaaaaaaaaaa', 'key-b-bbbbbbbbbbbbbbbbbbbbb', 'key-c-ccccccccccccccccccccc'],
        })
      ).status,
    ).toBe(200);
    expect(await stored()).toHaveLength(3);
    expect(await call('PUT', '/api-keys', { items: [] })).toEqual({ status: 400, body: { error: 'invalid body' } });
  });

  it('PATCH by index and by old/new', async () => {
    expect((await call('PATCH', '/api-keys', { index: 0, value: 'key-z-zzzzzzzzzzzzzzzzzzzzz' })).status).toBe(200);
    expect(
      (await call('PATCH', '/api-keys', { old: 'key-b-bbbbbbbbbbbbbbbbbbbbb', new: 'key-y-yyyyyyyyyyyyyyyyyyyyy' }))
        .status,
    ).toBe(200);
    expect((await call('GET', '/api-keys')).body).toEqual({
      'api-keys': ['key-z-zzzzzzzzzzzzzzzzzzzzz', 'key-y-yyyyyyyyyyyyyyyyyyyyy', 'key-c-ccccccccccccccccccccc'],
    });
    expect(await call('PATCH', '/api-keys', { nothing: true })).toEqual({
      status: 400,
      body: { error: 'missing fields' },
    });
  });

  it('DELETE by value and by index', async () => {
    expect((await call('DELETE', '/api-keys?value=key-y-yyyyyyyyyyyyyyyyyyyyy')).status).toBe(200);
    expect((await call('DELETE', '/api-keys?index=0')).status).toBe(200);
    expect((await call('GET', '/api-keys')).body).toEqual({ 'api-keys': ['key-c-ccccccccccccccccccccc'] });
    expect(await db.prisma.clientApiKey.count()).toBe(1);
    expect(await call('DELETE', '/api-keys')).toEqual({ status: 400, body: { error: 'missing index or value' } });
  });

  it('rejects malformed JSON with 400', async () => {
    expect(await call('PUT', '/api-keys', undefined, { rawBody: '["unterminated' })).toEqual({
      status: 400,
      body: { error: 'invalid body' },
    });
  });
});

describe('/claude-api-key', () => {
  const id1 = credentialId('claude', '', CLAUDE_KEY_1);
  const id2 = credentialId('claude', 'https://claude.example', CLAUDE_KEY_2);

  it('PUT {"items"} writes credentials with encrypted secrets', async () => {
    const since = events.length;
    const items = [
      { 'api-key': CLAUDE_KEY_1, prefix: 'teamA', models: [{ name: 'claude-sonnet-4-5', alias: 'sonnet' }] },
      { 'api-key': CLAUDE_KEY_2, 'base-url': 'https://claude.example', weight: 3, 'excluded-models': ['*-haiku'] },
    ];
    expect((await call('PUT', '/claude-api-key', { items })).status).toBe(200);
    const { body } = await call('GET', '/claude-api-key');
    expect(body).toEqual({
      'claude-api-key': [
        { ...items[0], 'auth-index': id1 },
        { ...items[1], 'auth-index': id2 },
      ],
    });
    const rows = await db.prisma.credential.findMany({ where: { provider: 'claude' }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.id).sort()).toEqual([id1, id2].sort());
    const second = rows.find((r) => r.id === id2)!;
    expect(second).toMatchObject({ weight: 3, baseUrl: 'https://claude.example', kind: 'api_key' });
    expect(second.secretEnc).not.toContain(CLAUDE_KEY_2);
    expect(JSON.parse(db.box.decrypt(second.secretEnc))).toEqual({ apiKey: CLAUDE_KEY_2 });
    // The first key was imported from the file: replacing the list keeps its origin.
    expect(rows.find((r) => r.id === id1)!.source).toBe('config');
    expect(second.source).toBe('management');
    await eventAfter(since, Events.configChanged);
  });

  it('PATCH {"index","value"} and {"match","value"} update one entry', async () => {
    expect((await call('PATCH', '/claude-api-key', { index: 0, value: { prefix: 'teamB', priority: 2 } })).status).toBe(
      200,
    );
    expect((await call('PATCH', '/claude-api-key', { match: CLAUDE_KEY_2, value: { weight: 7 } })).status).toBe(200);
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: id1 } })).toMatchObject({
      prefix: 'teamB',
      priority: 2,
    });
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: id2 } })).toMatchObject({ weight: 7 });
  });

  it('PATCH {"old","new"} replaces the entry with that api-key', async () => {
    expect(
      (
        await call('PATCH', '/claude-api-key', {
          old: CLAUDE_KEY_1,
          new: { 'api-key': 'sk-ant-api03-third-claude-key-ccccccc' },
        })
      ).status,
    ).toBe(200);
    const keys = ((await call('GET', '/claude-api-key')).body as { 'claude-api-key': { 'api-key': string }[] })[
      'claude-api-key'
    ].map((e) => e['api-key']);
    expect(keys).toEqual(['sk-ant-api03-third-claude-key-ccccccc', CLAUDE_KEY_2]);
    expect(await db.prisma.credential.findUnique({ where: { id: id1 } })).toBeNull();
  });

  it('rejects invalid entries with a 400 that names the field', async () => {
    const response = await call('PUT', '/claude-api-key', [{ 'base-url': 'https://x' }]);
    expect(response.status).toBe(400);
    expect((response.body as { error: string }).error).toMatch(/^claude-api-key\[0\]\.api-key/);
    expect(await call('PATCH', '/claude-api-key', { match: 'nope', value: { weight: 1 } })).toEqual({
      status: 404,
      body: { error: 'item not found' },
    });
  });

  it('rejects a list naming one key twice', async () => {
    const response = await call('PUT', '/claude-api-key', [{ 'api-key': CLAUDE_KEY_2 }, { 'api-key': CLAUDE_KEY_2 }]);
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).not.toContain(CLAUDE_KEY_2);
  });

  it('DELETE by ?api-key= and by ?index=', async () => {
    expect((await call('DELETE', `/claude-api-key?api-key=${CLAUDE_KEY_2}`)).status).toBe(200);
    expect((await call('DELETE', '/claude-api-key?index=0')).status).toBe(200);
    expect((await call('GET', '/claude-api-key')).body).toEqual({ 'claude-api-key': [] });
    expect(await db.prisma.credential.count({ where: { provider: 'claude' } })).toBe(0);
  });
});

describe('/gemini-api-key and /codex-api-key', () => {
  it.each([
    ['gemini-api-key', 'gemini', 'AIza-gemini-test-key'],
    ['codex-api-key', 'codex', 'sk-codex-test-key'],
  ])('%s persists entries under its family', async (section, family, key) => {
    expect((await call('PUT', `/${section}`, [{ 'api-key': key, 'base-url': 'https://up.example' }])).status).toBe(200);
    expect((await call('GET', `/${section}`)).body).toEqual({
      [section]: [
        {
          'api-key': key,
          'base-url': 'https://up.example',
          'auth-index': credentialId(family as 'gemini', 'https://up.example', key),
        },
      ],
    });
    expect(await db.prisma.credential.count({ where: { provider: family } })).toBe(1);
    expect((await call('DELETE', `/${section}?value=${key}`)).status).toBe(200);
    expect(await db.prisma.credential.count({ where: { provider: family } })).toBe(0);
  });
});

describe('/openai-compatibility', () => {
  const provider = {
    name: 'openrouter',
    'base-url': 'https://openrouter.ai/api/v1',
    'api-key-entries': [{ 'api-key': 'sk-or-one' }, { 'api-key': 'sk-or-two', weight: 2 }],
    models: [{ name: 'moonshotai/kimi-k2', alias: 'kimi' }],
  };

  it('PUT creates the provider and one credential per key', async () => {
    expect((await call('PUT', '/openai-compatibility', [provider])).status).toBe(200);
    expect((await call('GET', '/openai-compatibility')).body).toEqual({ 'openai-compatibility': [provider] });
    const config = await db.prisma.providerConfig.findUniqueOrThrow({
      where: { name: 'openrouter' },
      include: { credentials: true },
    });
    expect(config.credentials.map((c) => c.weight).sort()).toEqual([1, 2]);
  });

  it('PATCH by name, and DELETE by ?name=', async () => {
    expect(
      (
        await call('PATCH', '/openai-compatibility', {
          match: 'openrouter',
          value: { prefix: 'or', 'api-key-entries': [{ 'api-key': 'sk-or-three' }] },
        })
      ).status,
    ).toBe(200);
    const config = await db.prisma.providerConfig.findUniqueOrThrow({
      where: { name: 'openrouter' },
      include: { credentials: true },
    });
    expect(config.prefix).toBe('or');
    expect(config.credentials).toHaveLength(1);
    expect(config.credentials[0]).toMatchObject({
      prefix: 'or',
      id: credentialId('openai-compat', provider['base-url'], 'sk-or-three', 'openrouter'),
    });
    expect((await call('DELETE', '/openai-compatibility?name=openrouter')).status).toBe(200);
    expect(await db.prisma.providerConfig.count()).toBe(0);
    expect(await db.prisma.credential.count({ where: { provider: 'openai-compat' } })).toBe(0);
  });
});

describe('scalar settings', () => {
  it('GET answers defaults, PUT/PATCH {"value"} persist and broadcast', async () => {
    expect((await call('GET', '/request-retry')).body).toEqual({ 'request-retry': 3 });
    const since = events.length;
    expect(await call('PUT', '/request-retry', { value: 5 })).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await call('GET', '/request-retry')).body).toEqual({ 'request-retry': 5 });
    expect((await db.prisma.setting.findUniqueOrThrow({ where: { key: SettingKeys.requestRetry } })).value).toBe(5);
    expect((await eventAfter(since, Events.configChanged)).data).toMatchObject({
      sections: [SettingKeys.requestRetry],
    });
    expect((await call('PATCH', '/max-retry-credentials', { value: 2 })).status).toBe(200);
    expect((await call('GET', '/max-retry-credentials')).body).toEqual({ 'max-retry-credentials': 2 });
    expect((await call('PUT', '/max-retry-interval', { value: '2m' })).status).toBe(200);
    expect((await call('GET', '/max-retry-interval')).body).toEqual({ 'max-retry-interval': 120 });
    expect((await call('PUT', '/force-model-prefix', { value: true })).status).toBe(200);
    expect((await call('GET', '/force-model-prefix')).body).toEqual({ 'force-model-prefix': true });
  });

  it('routing strategy, session affinity and its TTL', async () => {
    expect((await call('PUT', '/routing/strategy', { value: 'fill-first' })).status).toBe(200);
    expect((await call('GET', '/routing/strategy')).body).toEqual({ strategy: 'fill-first' });
    expect((await call('PUT', '/routing/session-affinity', { value: true })).status).toBe(200);
    expect((await call('GET', '/routing/session-affinity')).body).toEqual({ 'session-affinity': true });
    expect((await call('PATCH', '/routing/session-affinity-ttl', { value: '30m' })).status).toBe(200);
    expect((await call('GET', '/routing/session-affinity-ttl')).body).toEqual({ 'session-affinity-ttl': '30m' });
    expect((await db.prisma.setting.findUniqueOrThrow({ where: { key: SettingKeys.sessionAffinityTtl } })).value).toBe(
      1800,
    );
  });

  it('validates values and rejects unknown settings', async () => {
    expect((await call('PUT', '/routing/strategy', { value: 'random' })).status).toBe(400);
    expect((await call('PUT', '/request-retry', { value: 'many' })).status).toBe(400);
    expect(await call('PUT', '/request-retry', {})).toEqual({ status: 400, body: { error: 'value is required' } });
    expect((await call('GET', '/no-such-setting')).status).toBe(404);
  });
});

describe('POST /reset-quota and GET /auth-files', () => {
  it('clears the mirrored model states, reports their models and broadcasts', async () => {
    await call('PUT', '/claude-api-key', [{ 'api-key': CLAUDE_KEY_1 }]);
    const id = credentialId('claude', '', CLAUDE_KEY_1);
    const future = Date.now() + 600_000;
    await db.prisma.credential.update({
      where: { id },
      data: {
        modelStates: { 'claude-sonnet-4-5': { nextRetryAfter: future }, 'claude-opus-4-1': { nextRetryAfter: future } },
      },
    });
    const listed = (await call('GET', '/auth-files')).body as { files: Record<string, unknown>[] };
    const file = listed.files.find((f) => f.id === id)!;
    expect(file).toMatchObject({
      auth_index: id,
      provider: 'claude',
      disabled: false,
      unavailable: true,
      status: 'active',
    });
    expect(JSON.stringify(listed)).not.toContain(CLAUDE_KEY_1);

    const since = events.length;
    expect(await call('POST', '/reset-quota', { auth_index: id })).toEqual({
      status: 200,
      body: { status: 'ok', auth_index: id, models: ['claude-opus-4-1', 'claude-sonnet-4-5'] },
    });
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id } })).modelStates).toEqual({});
    const event = await eventAfter(since, Events.credentialQuotaReset);
    expect(event.data).toMatchObject({ credentialId: id, models: ['claude-opus-4-1', 'claude-sonnet-4-5'] });
    const after = (await call('GET', '/auth-files')).body as { files: Record<string, unknown>[] };
    expect(after.files.find((f) => f.id === id)).toMatchObject({ unavailable: false });
  });

  it('answers 404 for an unknown credential and 400 without auth_index', async () => {
    expect((await call('POST', '/reset-quota', { auth_index: 'claude:0000' })).status).toBe(404);
    expect((await call('POST', '/reset-quota', {})).status).toBe(400);
  });
});

describe('audit log', () => {
  it('records changes without secrets', async () => {
    const rows = await db.prisma.auditLog.findMany();
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        'config.import',
        'api-keys.put',
        'claude-api-key.patch',
        'setting.update',
        'credential.reset-quota',
      ]),
    );
    const dump = JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    for (const secret of [SECRET, CLAUDE_KEY_1, CLAUDE_KEY_2, 'key-c-ccccccccccccccccccccc', 'sk-or-one'])
      expect(dump).not.toContain(secret);
  });
});

/** PUT /config.yaml with a raw text body. */
async function putYaml(text: string, contentType = 'application/yaml', key = SECRET) {
  const response = await app.inject({
    method: 'PUT',
    url: '/v0/management/config.yaml',
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    payload: text,
    remoteAddress: '127.0.0.1',
  });
  return {
    status: response.statusCode,
    body: response.json() as { status?: string; warnings?: string[]; error?: string },
  };
}

async function getYaml() {
  const response = await app.inject({
    method: 'GET',
    url: '/v0/management/config.yaml',
    headers: { authorization: `Bearer ${SECRET}` },
    remoteAddress: '127.0.0.1',
  });
  return { status: response.statusCode, contentType: response.headers['content-type'], text: response.body };
}

describe('GET|PUT /config.yaml', () => {
  const COMPAT = {
    name: 'yaml-compat',
    'base-url': 'https://compat.example/v1',
    'api-key-entries': [{ 'api-key': 'sk-yaml-compat-1' }],
    models: [{ name: 'm1', alias: 'a1' }],
  };
  const claudeId = credentialId('claude', '', CLAUDE_KEY_2);

  it('GET answers the stored configuration as YAML, without auth-index', async () => {
    const { status, contentType, text } = await getYaml();
    expect(status).toBe(200);
    expect(contentType).toBe('application/yaml; charset=utf-8');
    const { body: json } = await call('GET', '/config');
    const expected = structuredClone(json) as Record<string, Record<string, unknown>[]>;
    for (const entry of expected['claude-api-key']) delete entry['auth-index'];
    expect(parseYaml(text)).toEqual(expected);
    expect(text).not.toContain('auth-index');
  });

  it('PUT imports the text like the start-up import, keeps the secret and broadcasts config.changed', async () => {
    const since = events.length;
    const yaml = stringifyYaml({
      'api-keys': ['client-key-from-yaml-0000000000'],
      'claude-api-key': [{ 'api-key': CLAUDE_KEY_2, weight: 4 }],
      'openai-compatibility': [COMPAT],
      'request-retry': 1,
      routing: { strategy: 'fill-first' },
      surprise: { nested: true },
    });
    expect(await putYaml(yaml)).toEqual({
      status: 200,
      body: { status: 'ok', warnings: ['surprise: unknown or unsupported key (ignored)', KEPT_SECRET_WARNING] },
    });
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: claudeId } })).toMatchObject({
      weight: 4,
      source: 'config',
    });
    expect((await call('GET', '/openai-compatibility')).body).toEqual({ 'openai-compatibility': [COMPAT] });
    expect((await call('GET', '/request-retry')).body).toEqual({ 'request-retry': 1 });
    // Like the start-up import, the upload prunes only rows imported from config; keys added
    // through the list endpoints stay until an upload names them (and so claims them).
    expect((await call('GET', '/api-keys')).body).toEqual({
      'api-keys': ['key-c-ccccccccccccccccccccc', 'client-key-from-yaml-0000000000'],
    });
    // The secret was not in the text and still opens the API.
    expect((await call('GET', '/config')).status).toBe(200);
    expect((await eventAfter(since, Events.configChanged)).data).toMatchObject({ sections: ['config.yaml'] });
  });

  it('PUT prunes rows an earlier import brought in and the new text drops', async () => {
    expect(
      (await putYaml(stringifyYaml({ 'claude-api-key': [{ 'api-key': CLAUDE_KEY_2, weight: 4 }] }), 'text/yaml'))
        .status,
    ).toBe(200);
    expect(await db.prisma.providerConfig.count()).toBe(0);
    expect(await db.prisma.credential.count({ where: { provider: 'openai-compat' } })).toBe(0);
    expect(await db.prisma.credential.count({ where: { id: claudeId } })).toBe(1);
    // Settings the text no longer names fall back to their defaults.
    expect((await call('GET', '/request-retry')).body).toEqual({ 'request-retry': 3 });
  });

  it('GET then PUT of the same text keeps the configuration; a second time it writes nothing', async () => {
    const before = (await getYaml()).text;
    expect(await putYaml(before, 'text/plain')).toEqual({
      status: 200,
      body: { status: 'ok', warnings: [KEPT_SECRET_WARNING] },
    });
    expect((await getYaml()).text).toBe(before);
    const rows = await db.prisma.credential.findMany({ orderBy: { id: 'asc' } });
    expect(rows.every((row) => row.source === 'config')).toBe(true);
    expect((await putYaml(before, 'text/plain')).status).toBe(200);
    expect(await db.prisma.credential.findMany({ orderBy: { id: 'asc' } })).toEqual(rows);
  });

  it('PUT with a new secret-key replaces the management secret', async () => {
    const next = 'rotated-management-secret';
    const config = parseYaml((await getYaml()).text) as Record<string, unknown>;
    const withSecret = (secret: string) => stringifyYaml({ ...config, 'remote-management': { 'secret-key': secret } });
    expect((await putYaml(withSecret(next))).body).toEqual({ status: 'ok', warnings: [] });
    expect((await call('GET', '/config', undefined, { ip: '127.0.0.60' })).status).toBe(401);
    expect((await call('GET', '/config', undefined, { key: next, ip: '127.0.0.60' })).status).toBe(200);
    expect((await putYaml(withSecret(SECRET), 'application/yaml', next)).status).toBe(200);
    expect(parseYaml((await getYaml()).text)).toEqual(config);
    expect((await call('GET', '/config')).status).toBe(200);
  });

  it('rejects broken YAML and invalid values with 400, quoting no secret and changing nothing', async () => {
    const before = (await getYaml()).text;
    const broken = await putYaml(`claude-api-key:\n  - api-key: ${CLAUDE_KEY_1}\n   oops: [\n`);
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatch(/not valid YAML/);
    const invalid = await putYaml(`claude-api-key:\n  - api-key: ${CLAUDE_KEY_1}\n    weight: -1\n`);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toContain('claude-api-key[0].weight');
    const duplicate = await putYaml(`claude-api-key:\n  - api-key: ${CLAUDE_KEY_1}\n  - api-key: ${CLAUDE_KEY_1}\n`);
    expect(duplicate.status).toBe(400);
    expect(await putYaml('', 'text/plain')).toEqual({ status: 400, body: { error: 'empty config' } });
    for (const answer of [broken, invalid, duplicate]) expect(JSON.stringify(answer.body)).not.toContain(CLAUDE_KEY_1);
    expect((await getYaml()).text).toBe(before);
  });
});

describe('PATCH /auth-files/status', () => {
  const id = credentialId('claude', '', CLAUDE_KEY_2);
  const listed = async () =>
    ((await call('GET', '/auth-files')).body as { files: Record<string, unknown>[] }).files.find((f) => f.id === id)!;

  it('disables a credential by auth_index and broadcasts credential.changed', async () => {
    const since = events.length;
    expect(await call('PATCH', '/auth-files/status', { auth_index: id, disabled: true })).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id } })).disabled).toBe(true);
    expect(await listed()).toMatchObject({ disabled: true, status: 'disabled', unavailable: true });
    expect((await eventAfter(since, Events.credentialChanged)).data).toMatchObject({ credentialIds: [id] });
  });

  it('re-enables it by the name GET /auth-files shows', async () => {
    const { name } = await listed();
    expect(await call('PATCH', '/auth-files/status', { name, disabled: false })).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id } })).disabled).toBe(false);
    expect((await call('PATCH', '/auth-files/status', { name: id, disabled: true })).status).toBe(200);
    expect((await call('PATCH', '/auth-files/status', { auth_index: id, disabled: false })).status).toBe(200);
  });

  it('answers 404 for an unknown credential and 400 for a bad body', async () => {
    expect(await call('PATCH', '/auth-files/status', { auth_index: 'claude:0000', disabled: true })).toEqual({
      status: 404,
      body: { error: 'auth file not found' },
    });
    expect(await call('PATCH', '/auth-files/status', { name: 'nobody', disabled: true })).toEqual({
      status: 404,
      body: { error: 'auth file not found' },
    });
    expect((await call('PATCH', '/auth-files/status', { auth_index: id })).status).toBe(400);
    expect((await call('PATCH', '/auth-files/status', { auth_index: id, disabled: 'yes' })).status).toBe(400);
    expect(await call('PATCH', '/auth-files/status', { disabled: true })).toEqual({
      status: 400,
      body: { error: 'name or auth_index is required' },
    });
  });

  it('refuses a name that several credentials share', async () => {
    const claude = await db.prisma.credential.findMany({ where: { provider: 'claude' } });
    expect(claude.length).toBeGreaterThan(1);
    await db.prisma.credential.updateMany({ where: { provider: 'claude' }, data: { label: 'shared-label' } });
    try {
      expect(await call('PATCH', '/auth-files/status', { name: 'shared-label', disabled: true })).toEqual({
        status: 400,
        body: { error: 'several auth files have this name; use auth_index' },
      });
    } finally {
      for (const row of claude)
        await db.prisma.credential.update({ where: { id: row.id }, data: { label: row.label } });
    }
  });

  it('audits config uploads and status changes without secrets', async () => {
    const rows = await db.prisma.auditLog.findMany({
      where: { action: { in: ['config.put', 'credential.disable', 'credential.enable'] } },
    });
    expect(new Set(rows.map((r) => r.action))).toEqual(
      new Set(['config.put', 'credential.disable', 'credential.enable']),
    );
    const dump = JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    for (const secret of [
      SECRET,
      'rotated-management-secret',
      CLAUDE_KEY_2,
      'sk-yaml-compat-1',
      'client-key-from-yaml-0000000000',
    ])
      expect(dump).not.toContain(secret);
  });
});
