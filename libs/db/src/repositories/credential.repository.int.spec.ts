import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
import { SecretBox, SecretDecryptError } from '../crypto/secret-box';
import { ConflictError, NotFoundError } from '../db-errors';
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
    expect(created).toMatchObject({
      provider: 'claude',
      kind: 'api_key',
      version: 1,
      status: 'active',
      disabled: false,
    });
    expect(created.attributes).toEqual({ models: [{ name: 'claude-sonnet-4' }] });
    expect(await repo.getSecret('missing')).toBeNull();
  });

  it('cannot read secrets with another key', async () => {
    const created = await repo.create(claudeKey('sk-other'));
    const foreign = new CredentialRepository(db.prisma, new SecretBox(SecretBox.generateKey()));
    await expect(foreign.getSecret(created.id)).rejects.toThrow(SecretDecryptError);
  });

  it('lists by provider, highest priority first', async () => {
    const low = await repo.create({ ...claudeKey('k-low'), provider: 'gemini', priority: 0 });
    const high = await repo.create({ ...claudeKey('k-high'), provider: 'gemini', priority: 5 });
    const listed = await repo.list({ provider: 'gemini' });
    expect(listed.map((c) => c.id)).toEqual([high.id, low.id]);
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

  it('records status and model states without touching the version', async () => {
    const created = await repo.create(claudeKey('status'));
    await repo.setStatus(created.id, {
      status: 'error',
      statusMessage: 'unauthorized',
      lastError: '401 from upstream',
    });
    const current = await repo.get(created.id);
    expect(current).toMatchObject({
      status: 'error',
      statusMessage: 'unauthorized',
      lastError: '401 from upstream',
      version: 1,
    });
    await expect(repo.setStatus('missing', { status: 'x' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a new secret ends the wait for a login; other writes leave it waiting', async () => {
    const created = await repo.create({ provider: 'claude', kind: 'oauth', secret: { refreshToken: 'refused' } });
    const marked = await repo.update(created.id, 1, {
      status: 'needs_login',
      statusMessage: 'invalid_grant',
      nextRefreshAt: new Date(Date.now() + 60_000),
    });
    await repo.setStatus(created.id, { status: 'needs_login', lastError: 'invalid_grant' });
    const relabeled = await repo.update(created.id, marked.version, { label: 'still waiting' });
    expect(relabeled).toMatchObject({ status: 'needs_login', statusMessage: 'invalid_grant' });
    const relogin = await repo.update(created.id, relabeled.version, { secret: { refreshToken: 'new-login' } });
    expect(relogin).toMatchObject({ status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null });
    expect(await repo.get(created.id)).toMatchObject({
      status: 'active',
      statusMessage: '',
      lastError: '',
      nextRefreshAt: null,
    });
  });

  it('mirrors routing state without touching the version, keeps a wait for login, clears model states', async () => {
    const created = await repo.create(claudeKey('mirror'));
    const states = { 'claude-sonnet-4': { unavailable: true, nextRetryAt: 123 } };
    await repo.mirrorRoutingState(created.id, {
      modelStates: states,
      status: 'error',
      statusMessage: 'quota',
      lastError: '429',
    });
    expect(await repo.get(created.id)).toMatchObject({
      modelStates: states,
      status: 'error',
      statusMessage: 'quota',
      lastError: '429',
      version: 1,
    });

    await repo.setStatus(created.id, { status: 'needs_login', lastError: 'invalid_grant' });
    await repo.mirrorRoutingState(created.id, { modelStates: {}, status: 'active', statusMessage: '', lastError: '' });
    expect(await repo.get(created.id)).toMatchObject({
      modelStates: {},
      status: 'needs_login',
      lastError: 'invalid_grant',
    });

    await repo.mirrorRoutingState(created.id, {
      modelStates: states,
      status: 'active',
      statusMessage: '',
      lastError: '',
    });
    expect(await repo.clearModelStates(created.id)).toEqual(['claude-sonnet-4']);
    expect((await repo.get(created.id))?.modelStates).toEqual({});
    expect(await repo.clearModelStates('missing')).toBeNull();
  });
});
