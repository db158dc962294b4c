import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../__fixtures__/test-database';
import { CredentialRepository } from './credential.repository';
import { OPENAI_COMPAT_PROVIDER, ProviderConfigRepository, type ProviderConfigInput } from './provider-config.repository';

let db: TestDatabase;
let repo: ProviderConfigRepository;
let credentials: CredentialRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  credentials = new CredentialRepository(db.prisma, db.box);
  repo = new ProviderConfigRepository(db.prisma, credentials);
});
afterAll(() => db?.close());

const openrouter: ProviderConfigInput = {
  name: 'openrouter',
  baseUrl: 'https://openrouter.ai/api/v1',
  prefix: 'or',
  models: [{ name: 'moonshotai/kimi-k2', alias: 'kimi-k2' }],
  headers: { 'X-Title': 'cliproxy' },
  apiKeys: [{ apiKey: 'sk-or-PLAINTEXT-1' }, { apiKey: 'sk-or-PLAINTEXT-2', proxyUrl: 'socks5://127.0.0.1:1080' }],
  source: 'config',
};

describe('ProviderConfigRepository', () => {
  it('creates an entry with one encrypted openai-compat credential per API key', async () => {
    const { config, changed } = await repo.upsert(openrouter);
    expect(changed).toBe(true);
    expect(config).toMatchObject({ name: 'openrouter', baseUrl: openrouter.baseUrl, prefix: 'or', models: openrouter.models, headers: openrouter.headers });
    expect(config.credentials.map((c) => c.apiKey)).toEqual(['sk-or-PLAINTEXT-1', 'sk-or-PLAINTEXT-2']);
    const [first, second] = config.credentials;
    expect(first).toMatchObject({ provider: OPENAI_COMPAT_PROVIDER, kind: 'api_key', baseUrl: openrouter.baseUrl, prefix: 'or', providerConfigId: config.id, source: 'config' });
    expect(second!.proxyUrl).toBe('socks5://127.0.0.1:1080');
    expect(first!.attributes).toMatchObject({ providerName: 'openrouter', models: openrouter.models, headers: openrouter.headers });

    const { rows } = await db.raw.query('SELECT * FROM credentials WHERE provider_config_id = $1', [config.id]);
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain('PLAINTEXT');
  });

  it('re-applying the same entry changes nothing; editing keys keeps unchanged credentials', async () => {
    const before = (await repo.get('openrouter'))!;
    const again = await repo.upsert(openrouter);
    expect(again.changed).toBe(false);
    expect(again.config.credentials.map((c) => [c.id, c.version])).toEqual(before.credentials.map((c) => [c.id, 1]));

    const edited = await repo.upsert({ ...openrouter, apiKeys: [{ apiKey: 'sk-or-PLAINTEXT-2', proxyUrl: 'socks5://127.0.0.1:1080' }, { apiKey: 'sk-or-3' }] });
    expect(edited.changed).toBe(true);
    expect(edited.config.credentials.map((c) => c.apiKey)).toEqual(['sk-or-PLAINTEXT-2', 'sk-or-3']);
    expect(edited.config.credentials[0]!.id).toBe(before.credentials[1]!.id);
    expect(await credentials.get(before.credentials[0]!.id)).toBeNull();
  });

  it('propagates entry changes to its credentials', async () => {
    const { config } = await repo.upsert({ ...openrouter, baseUrl: 'https://example.test/v1', disabled: true, apiKeys: [{ apiKey: 'sk-or-3' }] });
    expect(config.baseUrl).toBe('https://example.test/v1');
    expect(config.credentials).toHaveLength(1);
    expect(config.credentials[0]).toMatchObject({ baseUrl: 'https://example.test/v1', disabled: true, apiKey: 'sk-or-3' });
  });

  it('replaces the whole list in order, deleting missing entries with their credentials', async () => {
    const openrouterId = (await repo.get('openrouter'))!.id;
    const { configs, changed } = await repo.replaceAll([
      { name: 'local', baseUrl: 'http://127.0.0.1:8000/v1', apiKeys: [{ apiKey: 'local-key' }] },
      { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', apiKeys: [] },
    ]);
    expect(changed).toBe(true);
    expect(configs.map((c) => [c.name, c.position])).toEqual([['local', 0], ['groq', 1]]);
    expect(await credentials.list({ providerConfigId: openrouterId })).toEqual([]);

    const same = await repo.replaceAll([
      { name: 'local', baseUrl: 'http://127.0.0.1:8000/v1', apiKeys: [{ apiKey: 'local-key' }] },
      { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', apiKeys: [] },
    ]);
    expect(same.changed).toBe(false);

    expect(await repo.delete('groq')).toBe(true);
    expect(await repo.delete('groq')).toBe(false);
    expect((await repo.list()).map((c) => c.name)).toEqual(['local']);
  });
});
