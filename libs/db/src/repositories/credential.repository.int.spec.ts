import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../__fixtures__/test-database';
import { SecretBox, SecretDecryptError } from '../crypto/secret-box';
import { ConflictError, NotFoundError } from '../errors';
import { CredentialRepository, type CredentialInput } from './credential.repository';

let db: TestDatabase;
let repo: CredentialRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = new CredentialRepository(db.prisma, db.box);
});
afterAll(() => db?.close());

const claudeKey = (apiKey: string, extra: Partial<CredentialInput> = {}): CredentialInput => ({
  provider: 'claude',
  kind: 'api_key',
  label: 'team key',
  secret: { apiKey },
  ...extra,
});

describe('CredentialRepository', () => {
  it('stores secrets only encrypted and returns them decrypted through getSecret', async () => {
    const apiKey = 'sk-ant-api03-PLAINTEXT-MUST-NOT-BE-STORED';
    const created = await repo.create(claudeKey(apiKey, { attributes: { models: [{ name: 'claude-sonnet-4' }] } }));

    const { rows } = await db.raw.query('SELECT * FROM credentials WHERE id = $1', [created.id]);
    const rawRow = JSON.stringify(rows[0]);
    expect(rawRow).not.toContain(apiKey);
    expect(rawRow).not.toContain('PLAINTEXT');
    expect(rows[0].secret_enc).toMatch(/^v1:[^:]+:[^:]+:[^:]+$/);

    expect(await repo.getSecret(created.id)).toEqual({ apiKey });
    expect(created).not.toHaveProperty('secretEnc');
    expect(created).toMatchObject({ provider: 'claude', kind: 'api_key', version: 1, status: 'active', disabled: false });
    expect(created.attributes).toEqual({ models: [{ name: 'claude-sonnet-4' }] });
    expect(await repo.getSecret('missing')).toBeNull();
  });

  it('cannot read secrets with another key', async () => {
    const created = await repo.create(claudeKey('sk-other'));
    const foreign = new CredentialRepository(db.prisma, new SecretBox(SecretBox.generateKey()));
    await expect(foreign.getSecret(created.id)).rejects.toThrow(SecretDecryptError);
  });

  it('lists by provider, highest priority first, with secrets on request', async () => {
    const low = await repo.create({ ...claudeKey('k-low'), provider: 'gemini', priority: 0 });
    const high = await repo.create({ ...claudeKey('k-high'), provider: 'gemini', priority: 5 });
    const listed = await repo.listByProvider('gemini');
    expect(listed.map((c) => c.id)).toEqual([high.id, low.id]);
    const withSecrets = await repo.listWithSecrets({ provider: 'gemini' });
    expect(withSecrets.map((c) => c.secret)).toEqual([{ apiKey: 'k-high' }, { apiKey: 'k-low' }]);
    expect((await repo.list()).length).toBeGreaterThanOrEqual(2);
  });

  it('updates under an optimistic lock and bumps the version', async () => {
    const created = await repo.create(claudeKey('v1-key'));
    const updated = await repo.update(created.id, 1, { label: 'renamed', secret: { apiKey: 'v2-key' } });
    expect(updated.version).toBe(2);
    expect(updated.label).toBe('renamed');
    expect(await repo.getSecret(created.id)).toEqual({ apiKey: 'v2-key' });

    const stale = repo.update(created.id, 1, { secret: { apiKey: 'lost-update' } });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await expect(repo.update(created.id, 1, {})).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    expect(await repo.getSecret(created.id)).toEqual({ apiKey: 'v2-key' });
    await expect(repo.update('missing', 1, {})).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lets exactly one of two racing writers of the same version win', async () => {
    const created = await repo.create(claudeKey('race'));
    const results = await Promise.allSettled([
      repo.update(created.id, 1, { secret: { apiKey: 'writer-a' } }),
      repo.update(created.id, 1, { secret: { apiKey: 'writer-b' } }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    expect((await repo.get(created.id))?.version).toBe(2);
  });

  it('upserts idempotently: identical input writes nothing', async () => {
    const input = { ...claudeKey('upsert-key'), id: 'cfg-claude-0', source: 'config', attributes: { models: [{ name: 'm', alias: 'a' }] } };
    const first = await repo.upsert(input);
    expect(first).toMatchObject({ created: true, changed: true });
    const second = await repo.upsert({ ...input, attributes: { models: [{ alias: 'a', name: 'm' }] } });
    expect(second).toMatchObject({ created: false, changed: false });
    expect(second.credential.version).toBe(1);

    const rotated = await repo.upsert({ ...input, secret: { apiKey: 'upsert-key-2' } });
    expect(rotated).toMatchObject({ created: false, changed: true });
    expect(rotated.credential.version).toBe(2);
    expect(await repo.getSecret('cfg-claude-0')).toEqual({ apiKey: 'upsert-key-2' });

    const relabeled = await repo.upsert({ ...input, secret: { apiKey: 'upsert-key-2' }, label: 'new label' });
    expect(relabeled.changed).toBe(true);
    expect(relabeled.credential.label).toBe('new label');
  });

  it('records status and model states without touching the version', async () => {
    const created = await repo.create(claudeKey('status'));
    await repo.setStatus(created.id, { status: 'error', statusMessage: 'unauthorized', lastError: '401 from upstream' });
    await repo.mirrorModelStates(created.id, { 'claude-sonnet-4': { unavailable: true, nextRetryAt: 123 } });
    const current = await repo.get(created.id);
    expect(current).toMatchObject({ status: 'error', statusMessage: 'unauthorized', lastError: '401 from upstream', version: 1 });
    expect(current?.modelStates).toEqual({ 'claude-sonnet-4': { unavailable: true, nextRetryAt: 123 } });
    await expect(repo.setStatus('missing', { status: 'x' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a new secret ends the wait for a login; other writes leave it waiting', async () => {
    const created = await repo.create({ provider: 'claude', kind: 'oauth', secret: { refreshToken: 'refused' } });
    const marked = await repo.update(created.id, 1, { status: 'needs_login', statusMessage: 'invalid_grant', nextRefreshAt: new Date(Date.now() + 60_000) });
    await repo.setStatus(created.id, { status: 'needs_login', lastError: 'invalid_grant' });
    const relabeled = await repo.update(created.id, marked.version, { label: 'still waiting' });
    expect(relabeled).toMatchObject({ status: 'needs_login', statusMessage: 'invalid_grant' });
    // The same secret re-imported writes nothing, so nothing changes either.
    expect((await repo.upsert({ id: created.id, provider: 'claude', kind: 'oauth', label: 'still waiting', secret: { refreshToken: 'refused' } })).changed).toBe(false);
    expect((await repo.get(created.id))?.status).toBe('needs_login');

    const relogin = await repo.upsert({ id: created.id, provider: 'claude', kind: 'oauth', label: 'still waiting', secret: { refreshToken: 'new-login' } });
    expect(relogin.credential).toMatchObject({ status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null });
    expect(await repo.get(created.id)).toMatchObject({ status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null });
  });

  it('deletes', async () => {
    const created = await repo.create(claudeKey('gone'));
    expect(await repo.delete(created.id)).toBe(true);
    expect(await repo.delete(created.id)).toBe(false);
    expect(await repo.get(created.id)).toBeNull();
  });
});
