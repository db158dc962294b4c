import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
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
    await repo.add(key);
    const { rows } = await db.raw.query('SELECT * FROM client_api_keys');
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('PLAINTEXT');
    expect(rows[0].key_hash).toBe(hashClientKey(key));
    expect(rows[0].key_preview).toBe('client...6789');
  });

  it('adds single keys at the end, once', async () => {
    const one = await repo.add('one');
    const added = await repo.add('two', { label: 'ci', rpmLimit: 60 });
    expect(added).toMatchObject({ key: 'two', label: 'ci', rpmLimit: 60, position: one.position + 1 });
    expect((await repo.add('two')).id).toBe(added.id);
    expect(await repo.removeById(added.id)).toBe(true);
    expect(await repo.removeById(one.id)).toBe(true);
  });

  it("keeps a key's models, limits, budgets and expiry, changes them by id and removes by id", async () => {
    const plain = await repo.add('plain');
    expect(plain).toMatchObject({
      models: [],
      rpmLimit: 0,
      tpmLimit: 0,
      dailyTokenBudget: 0,
      monthlyTokenBudget: 0,
      expiresAt: null,
    });

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
    expect(created).toMatchObject({
      label: 'team a',
      models: ['gpt-4o', 'claude-*'],
      rpmLimit: 10,
      tpmLimit: 5000,
      dailyTokenBudget: 3_000_000_000,
      monthlyTokenBudget: 90_000_000_000,
      expiresAt,
      disabled: false,
      source: 'management',
    });
    expect(await repo.findById(created.id)).toEqual(created);

    const updated = await repo.update(created.id, {
      models: [],
      tpmLimit: 0,
      expiresAt: null,
      disabled: true,
      label: 'team b',
    });
    expect(updated).toMatchObject({
      id: created.id,
      key: 'limited-key',
      label: 'team b',
      models: [],
      rpmLimit: 10,
      tpmLimit: 0,
      dailyTokenBudget: 3_000_000_000,
      expiresAt: null,
      disabled: true,
    });
    expect(await repo.update('no-such-id', { rpmLimit: 1 })).toBeNull();

    // A move in the list (the config importer's reorder) keeps the key's limits.
    await repo.setPosition(created.id, 0);
    expect(await repo.findById(created.id)).toMatchObject({
      position: 0,
      rpmLimit: 10,
      dailyTokenBudget: 3_000_000_000,
    });

    expect(await repo.removeById(created.id)).toBe(true);
    expect(await repo.removeById(created.id)).toBe(false);
    expect(await repo.findById(created.id)).toBeNull();
  });
});
