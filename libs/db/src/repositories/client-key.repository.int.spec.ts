import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../__fixtures__/test-database';
import { hashClientKey } from '../crypto/client-key';
import { ClientKeyRepository } from './client-key.repository';

let db: TestDatabase;
let repo: ClientKeyRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = new ClientKeyRepository(db.prisma, db.box);
});
afterAll(() => db?.close());

describe('ClientKeyRepository', () => {
  it('stores keys hashed and encrypted, never in plaintext', async () => {
    const key = 'client-key-PLAINTEXT-0123456789';
    await repo.replaceAll([key]);
    const { rows } = await db.raw.query('SELECT * FROM client_api_keys');
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('PLAINTEXT');
    expect(rows[0].key_hash).toBe(hashClientKey(key));
    expect(rows[0].key_preview).toBe('client...6789');
  });

  it('replaces the whole list idempotently, keeping ids of unchanged keys', async () => {
    const first = await repo.replaceAll(['key-a', 'key-b', 'key-c']);
    expect(first.map((k) => k.key)).toEqual(['key-a', 'key-b', 'key-c']);
    const ids = Object.fromEntries(first.map((k) => [k.key, k.id]));

    const second = await repo.replaceAll(['key-c', 'key-a', 'key-d', 'key-a', '']);
    expect(second.map((k) => k.key)).toEqual(['key-c', 'key-a', 'key-d']);
    expect(second.map((k) => k.position)).toEqual([0, 1, 2]);
    expect(second[0]!.id).toBe(ids['key-c']);
    expect(second[1]!.id).toBe(ids['key-a']);
    expect(second[2]!.id).not.toBe(ids['key-b']);

    const third = await repo.replaceAll(['key-c', 'key-a', 'key-d']);
    expect(third.map((k) => k.id)).toEqual(second.map((k) => k.id));
  });

  it('finds active keys by value and ignores unknown or disabled ones', async () => {
    await repo.replaceAll(['gw-key-1', 'gw-key-2']);
    await db.prisma.clientApiKey.update({ where: { keyHash: hashClientKey('gw-key-2') }, data: { disabled: true, rpmLimit: 7 } });
    const found = await repo.findActiveByKey('gw-key-1');
    expect(found).toEqual({ id: expect.any(String), label: '', rpmLimit: 0 });
    expect(await repo.findActiveByKey('gw-key-2')).toBeNull();
    expect(await repo.findActiveByKey('nope')).toBeNull();
  });

  it('adds, replaces and removes single keys', async () => {
    await repo.replaceAll(['one']);
    const added = await repo.add('two', { label: 'ci', rpmLimit: 60 });
    expect(added).toMatchObject({ key: 'two', label: 'ci', rpmLimit: 60, position: 1 });
    expect((await repo.add('two')).id).toBe(added.id);

    const replaced = await repo.replace('two', 'three');
    expect(replaced).toMatchObject({ id: added.id, key: 'three', position: 1, label: 'ci' });
    expect(await repo.findActiveByKey('two')).toBeNull();
    expect(await repo.findActiveByKey('three')).toEqual({ id: added.id, label: 'ci', rpmLimit: 60 });
    expect(await repo.replace('absent', 'x')).toBeNull();

    expect(await repo.remove('three')).toBe(true);
    expect(await repo.remove('three')).toBe(false);
    expect((await repo.list()).map((k) => k.key)).toEqual(['one']);
  });

  it("keeps a key's models, limits, budgets and expiry, changes them by id and removes by id", async () => {
    await repo.replaceAll(['plain']);
    const plain = (await repo.list())[0]!;
    expect(plain).toMatchObject({ models: [], rpmLimit: 0, tpmLimit: 0, dailyTokenBudget: 0, monthlyTokenBudget: 0, expiresAt: null });

    const expiresAt = new Date('2027-01-01T00:00:00.000Z');
    const created = await repo.add('limited-key', {
      label: 'team a',
      models: ['gpt-4o', 'claude-*'],
      rpmLimit: 10,
      tpmLimit: 5000,
      dailyTokenBudget: 3_000_000_000,
      monthlyTokenBudget: 90_000_000_000,
      expiresAt,
      source: 'management',
    });
    expect(created).toMatchObject({ label: 'team a', models: ['gpt-4o', 'claude-*'], rpmLimit: 10, tpmLimit: 5000, dailyTokenBudget: 3_000_000_000, monthlyTokenBudget: 90_000_000_000, expiresAt, disabled: false, source: 'management' });
    expect(await repo.findById(created.id)).toEqual(created);

    const updated = await repo.update(created.id, { models: [], tpmLimit: 0, expiresAt: null, disabled: true, label: 'team b' });
    expect(updated).toMatchObject({ id: created.id, key: 'limited-key', label: 'team b', models: [], rpmLimit: 10, tpmLimit: 0, dailyTokenBudget: 3_000_000_000, expiresAt: null, disabled: true });
    expect(await repo.findActiveByKey('limited-key')).toBeNull();
    expect(await repo.update('no-such-id', { rpmLimit: 1 })).toBeNull();

    // CLIProxyAPI's list keeps the key, and a reorder of that list keeps its limits.
    await repo.replaceAll(['limited-key', 'plain']);
    expect(await repo.findById(created.id)).toMatchObject({ position: 0, rpmLimit: 10, dailyTokenBudget: 3_000_000_000 });

    expect(await repo.removeById(created.id)).toBe(true);
    expect(await repo.removeById(created.id)).toBe(false);
    expect(await repo.findById(created.id)).toBeNull();
  });

  it('serializes concurrent replaceAll calls', async () => {
    await Promise.all([repo.replaceAll(['p', 'q']), repo.replaceAll(['q', 'r']), repo.replaceAll(['p', 'q'])]);
    const keys = (await repo.list()).map((k) => k.key);
    expect([['p', 'q'], ['q', 'r']]).toContainEqual(keys);
  });
});
