import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
import { AuditRepository, AuditSecretError } from './audit.repository';

let db: TestDatabase;
let repo: AuditRepository;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = new AuditRepository(db.prisma);
});
afterAll(() => db?.close());

describe('AuditRepository', () => {
  it('records entries and lists them newest first, paging backwards', async () => {
    await repo.record('management', 'api-keys.replace', 'api-keys', { count: 2, keyPreviews: ['abc...', 'def...'] });
    await repo.record('management', 'credential.delete', 'cred-1');
    await repo.record('refresh-worker', 'credential.refresh', 'cred-2', { version: 3 });

    const latest = await repo.list({ limit: 2 });
    expect(latest.map((e) => e.action)).toEqual(['credential.refresh', 'credential.delete']);
    expect(latest[0]).toMatchObject({ actor: 'refresh-worker', target: 'cred-2', details: { version: 3 } });
    expect(latest[0]!.at).toBeInstanceOf(Date);

    const older = await repo.list({ before: latest[1]!.id });
    expect(older.map((e) => e.details)).toEqual([{ count: 2, keyPreviews: ['abc...', 'def...'] }]);
  });

  it('refuses secret-looking details and writes nothing', async () => {
    const before = await repo.list();
    await expect(repo.record('management', 'x', 'y', { apiKey: 'sk-live' })).rejects.toBeInstanceOf(AuditSecretError);
    expect(await repo.list()).toHaveLength(before.length);
    const { rows } = await db.raw.query('SELECT details::text AS d FROM audit_log');
    expect(rows.map((r: { d: string }) => r.d).join()).not.toContain('sk-live');
  });
});
