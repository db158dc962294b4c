import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../__fixtures__/test-database';
import { SettingsRepository } from './settings.repository';

let db: TestDatabase;
let repo: SettingsRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = new SettingsRepository(db.prisma);
});
afterAll(() => db?.close());

describe('SettingsRepository', () => {
  it('stores JSON values of any shape and overwrites them', async () => {
    await repo.set('request-retry', 3);
    await repo.set('routing', { strategy: 'round-robin', 'session-affinity': true });
    await repo.set('proxy-url', '');
    await repo.set('nothing', null);
    expect(await repo.get('request-retry')).toBe(3);
    expect(await repo.get('routing')).toEqual({ strategy: 'round-robin', 'session-affinity': true });
    expect(await repo.get('nothing')).toBeNull();
    expect(await repo.get('absent')).toBeUndefined();

    await repo.set('request-retry', 5);
    expect(await repo.get('request-retry')).toBe(5);
  });

  it('writes several settings at once and reads them all', async () => {
    await repo.setMany({ 'max-retry-interval': 30, 'max-retry-credentials': 2, list: ['a', 'b'] });
    const all = await repo.getAll();
    expect(all).toMatchObject({ 'max-retry-interval': 30, 'max-retry-credentials': 2, list: ['a', 'b'], 'proxy-url': '' });
  });

  it('deletes', async () => {
    await repo.set('temp', true);
    expect(await repo.delete('temp')).toBe(true);
    expect(await repo.delete('temp')).toBe(false);
    expect(await repo.get('temp')).toBeUndefined();
  });
});
