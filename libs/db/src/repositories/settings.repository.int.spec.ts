import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
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

  it('reads all settings, or the ones asked for', async () => {
    await repo.set('max-retry-interval', 30);
    await repo.set('list', ['a', 'b']);
    expect(await repo.getAll()).toMatchObject({ 'max-retry-interval': 30, list: ['a', 'b'], 'proxy-url': '' });
    expect(await repo.getMany(['list', 'absent'])).toEqual({ list: ['a', 'b'] });
  });

  it('writes only on a change and deletes on undefined', async () => {
    expect(await repo.set('temp', { a: 1, b: 2 })).toBe(true);
    expect(await repo.set('temp', { b: 2, a: 1 })).toBe(false);
    expect(await repo.set('temp', undefined)).toBe(true);
    expect(await repo.set('temp', undefined)).toBe(false);
    expect(await repo.get('temp')).toBeUndefined();
  });
});
