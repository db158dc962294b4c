import { UnitOfWork } from '@cpa/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { parseConfigYaml } from './config-file';
import { credentialId, providerConfigId } from './ids';
import { SettingKeys } from './settings';
import { exportConfig, importConfig, MANAGEMENT_MODE, syncProviderKeys } from './store';

let db: TestDatabase;
const uow = () => new UnitOfWork(db.prisma, db.box);

beforeAll(async () => {
  db = await createTestDatabase('cpa_config_test');
});
afterAll(() => db?.close());

const FILE = `
port: 8317
api-keys: [client-key-aaaaaaaaaaaaaaaaaaaa, client-key-bbbbbbbbbbbbbbbbbbbb]
claude-api-key:
  - api-key: sk-ant-secret-one-xxxxxxxxxxxx
    prefix: teamA
    models: [{ name: claude-sonnet-4-5, alias: sonnet }]
    excluded-models: ["*-haiku"]
    headers: { X-Team: a }
    weight: 3
    priority: 1
    disable-cooling: true
    request-retry: 2
  - api-key: sk-ant-secret-two-xxxxxxxxxxxx
    base-url: https://claude.example
gemini-api-key:
  - api-key: AIza-secret-gemini
codex-api-key:
  - api-key: sk-codex-secret
openai-compatibility:
  - name: openrouter
    base-url: https://openrouter.ai/api/v1
    api-key-entries:
      - api-key: sk-or-secret-1
        weight: 2
      - api-key: sk-or-secret-2
        proxy-url: http://proxy:3128
    models: [{ name: moonshotai/kimi-k2, alias: kimi }]
routing:
  strategy: fill-first
  session-affinity: true
  session-affinity-ttl: 2h
request-retry: 4
max-retry-interval: 1m
max-retry-credentials: 2
force-model-prefix: true
remote-management:
  secret-key: management-secret
unknown-thing: 1
`;

/** Every row of the imported tables, as stored (timestamps included). */
async function snapshot() {
  const [credentials, keys, providers, settings] = await Promise.all([
    db.raw.query('SELECT * FROM credentials ORDER BY id'),
    db.raw.query('SELECT * FROM client_api_keys ORDER BY id'),
    db.raw.query('SELECT * FROM provider_configs ORDER BY id'),
    db.raw.query('SELECT * FROM settings ORDER BY key'),
  ]);
  return { credentials: credentials.rows, keys: keys.rows, providers: providers.rows, settings: settings.rows };
}

describe('importConfig', () => {
  it('imports keys, credentials, providers and settings with secrets only encrypted or hashed', async () => {
    const summary = await importConfig(uow(), db.box, parseConfigYaml(FILE));
    expect(summary.clientKeys).toEqual({ created: 2, updated: 0, deleted: 0, unchanged: 0 });
    expect(summary.credentials).toEqual({ created: 6, updated: 0, deleted: 0, unchanged: 0 });
    expect(summary.providers).toEqual({ created: 1, updated: 0, deleted: 0, unchanged: 0 });
    expect(summary.warnings).toEqual([{ path: 'unknown-thing', message: expect.any(String) }]);
    expect(summary.settings).toBe(9); // 8 values present in the file + the management secret hash

    const rows = await snapshot();
    const dump = JSON.stringify(rows);
    for (const secret of [
      'sk-ant-secret-one',
      'AIza-secret-gemini',
      'sk-or-secret-1',
      'client-key-aaaa',
      'management-secret',
    ]) {
      expect(dump).not.toContain(secret);
    }

    const claude = await db.prisma.credential.findUniqueOrThrow({
      where: { id: credentialId('claude', '', 'sk-ant-secret-one-xxxxxxxxxxxx') },
    });
    expect(claude).toMatchObject({
      provider: 'claude',
      kind: 'api_key',
      source: 'config',
      prefix: 'teamA',
      weight: 3,
      priority: 1,
    });
    expect(claude.attributes).toEqual({
      position: 0,
      models: [{ name: 'claude-sonnet-4-5', alias: 'sonnet' }],
      excludedModels: ['*-haiku'],
      headers: { 'X-Team': 'a' },
      disableCooling: true,
      requestRetry: 2,
    });
    expect(JSON.parse(db.box.decrypt(claude.secretEnc))).toEqual({ apiKey: 'sk-ant-secret-one-xxxxxxxxxxxx' });

    const compat = await db.prisma.credential.findMany({ where: { providerConfigId: providerConfigId('openrouter') } });
    expect(compat.map((c) => [c.provider, c.baseUrl, c.weight, c.proxyUrl]).sort()).toEqual([
      ['openai-compat', 'https://openrouter.ai/api/v1', 1, 'http://proxy:3128'],
      ['openai-compat', 'https://openrouter.ai/api/v1', 2, ''],
    ]);

    const settings = Object.fromEntries(rows.settings.map((s) => [s.key, s.value]));
    expect(settings).toMatchObject({
      [SettingKeys.routingStrategy]: 'fill-first',
      [SettingKeys.sessionAffinity]: true,
      [SettingKeys.sessionAffinityTtl]: 7200,
      [SettingKeys.requestRetry]: 4,
      [SettingKeys.maxRetryInterval]: 60,
      [SettingKeys.maxRetryCredentials]: 2,
      [SettingKeys.forceModelPrefix]: true,
    });
    expect(settings[SettingKeys.managementSecretHash]).toMatch(/^scrypt\$/);
  });

  it('is idempotent: importing the same file again writes nothing', async () => {
    const before = await snapshot();
    const summary = await importConfig(uow(), db.box, parseConfigYaml(FILE));
    expect(summary.credentials).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 6 });
    expect(summary.clientKeys).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 2 });
    expect(summary.providers).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 1 });
    expect(summary.settings).toBe(0);
    expect(await snapshot()).toEqual(before);
  });

  it('keeps a credential the operator disabled disabled across re-imports', async () => {
    const id = credentialId('claude', 'https://claude.example', 'sk-ant-secret-two-xxxxxxxxxxxx');
    await db.prisma.credential.update({ where: { id }, data: { disabled: true } });
    await importConfig(uow(), db.box, parseConfigYaml(FILE));
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id } })).disabled).toBe(true);
    await db.prisma.credential.update({ where: { id }, data: { disabled: false } });
  });

  it('exports the stored configuration in CLIProxyAPI shape', async () => {
    const exported = await exportConfig(uow().repos, db.box);
    expect(exported['api-keys']).toEqual(['client-key-aaaaaaaaaaaaaaaaaaaa', 'client-key-bbbbbbbbbbbbbbbbbbbb']);
    expect(exported['claude-api-key']).toEqual([
      {
        'api-key': 'sk-ant-secret-one-xxxxxxxxxxxx',
        prefix: 'teamA',
        models: [{ name: 'claude-sonnet-4-5', alias: 'sonnet' }],
        'excluded-models': ['*-haiku'],
        headers: { 'X-Team': 'a' },
        weight: 3,
        priority: 1,
        'disable-cooling': true,
        'request-retry': 2,
        'auth-index': credentialId('claude', '', 'sk-ant-secret-one-xxxxxxxxxxxx'),
      },
      {
        'api-key': 'sk-ant-secret-two-xxxxxxxxxxxx',
        'base-url': 'https://claude.example',
        'auth-index': expect.stringMatching(/^claude:/),
      },
    ]);
    expect(exported['openai-compatibility']).toEqual([
      {
        name: 'openrouter',
        'base-url': 'https://openrouter.ai/api/v1',
        'api-key-entries': [
          { 'api-key': 'sk-or-secret-1', weight: 2 },
          { 'api-key': 'sk-or-secret-2', 'proxy-url': 'http://proxy:3128' },
        ],
        models: [{ name: 'moonshotai/kimi-k2', alias: 'kimi' }],
      },
    ]);
    expect(exported.routing).toEqual({
      strategy: 'fill-first',
      'session-affinity': true,
      'session-affinity-ttl': '2h',
    });
    expect(exported['max-retry-interval']).toBe(60);
    expect(JSON.stringify(exported)).not.toContain('management-secret');
  });

  it('prunes rows imported earlier and gone from the file, but keeps rows created through the management API', async () => {
    await uow().run((repos) =>
      syncProviderKeys(
        repos,
        db.box,
        'gemini-api-key',
        [{ 'api-key': 'AIza-secret-gemini' }, { 'api-key': 'AIza-added-by-operator' }],
        MANAGEMENT_MODE,
      ),
    );
    const reduced = FILE.replace(
      / {2}- api-key: sk-ant-secret-two-xxxxxxxxxxxx\n {4}base-url: https:\/\/claude.example\n/,
      '',
    )
      .replace(/gemini-api-key:\n {2}- api-key: AIza-secret-gemini\n/, '')
      .replace(/openai-compatibility:[\s\S]*?alias: kimi }\]\n/, '')
      .replace(
        'api-keys: [client-key-aaaaaaaaaaaaaaaaaaaa, client-key-bbbbbbbbbbbbbbbbbbbb]',
        'api-keys: [client-key-bbbbbbbbbbbbbbbbbbbb]',
      )
      .replace(/routing:\n( {2}.*\n)+/, '');
    const summary = await importConfig(uow(), db.box, parseConfigYaml(reduced));
    expect(summary.credentials.deleted).toBe(4); // claude two, gemini one, two openrouter keys
    expect(summary.providers.deleted).toBe(1);
    expect(summary.clientKeys).toEqual({ created: 0, updated: 1, deleted: 1, unchanged: 0 });

    const remaining = await db.prisma.credential.findMany({ orderBy: { id: 'asc' } });
    expect(remaining.map((c) => [c.provider, c.source]).sort()).toEqual([
      ['claude', 'config'],
      ['codex', 'config'],
      ['gemini', 'management'],
    ]);
    expect(await db.prisma.providerConfig.count()).toBe(0);
    const routing = await db.prisma.setting.findMany({ where: { key: { startsWith: 'routing.' } } });
    expect(routing).toEqual([]);
  });

  it('removes the management secret when the file no longer sets one', async () => {
    await importConfig(uow(), db.box, parseConfigYaml('api-keys: [client-key-bbbbbbbbbbbbbbbbbbbb]'));
    expect(await db.prisma.setting.findUnique({ where: { key: SettingKeys.managementSecretHash } })).toBeNull();
  });
});
