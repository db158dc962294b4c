import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './testing';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.close());

/** The hand-written migration must match what the generated client reads and writes. */
describe('migration vs. Prisma schema', () => {
  it('round-trips every field of OAuthSession', async () => {
    const expiresAt = new Date('2030-01-01T00:00:00.123Z');
    await db.prisma.oAuthSession.create({
      data: { state: 's1', provider: 'claude', secretEnc: db.box.encrypt('verifier'), credentialId: 'c1', expiresAt },
    });
    const row = await db.prisma.oAuthSession.findUniqueOrThrow({ where: { state: 's1' } });
    expect(row).toMatchObject({ provider: 'claude', status: 'pending', error: '', credentialId: 'c1', expiresAt });
    expect(db.box.decrypt(row.secretEnc)).toBe('verifier');
  });

  it('applies the schema defaults and updatedAt on every table', async () => {
    const config = await db.prisma.providerConfig.create({ data: { id: 'p1', name: 'n', baseUrl: 'u' } });
    expect(config).toMatchObject({ prefix: '', disabled: false, models: [], headers: {}, position: 0 });
    const credential = await db.prisma.credential.create({
      data: {
        id: 'c1',
        provider: 'openai-compat',
        kind: 'oauth',
        secretEnc: 'x',
        providerConfigId: 'p1',
        expiresAt: new Date(0),
      },
    });
    expect(credential).toMatchObject({
      weight: 1,
      version: 1,
      status: 'active',
      source: 'management',
      attributes: {},
      modelStates: {},
    });
    expect(credential.updatedAt).toBeInstanceOf(Date);
    const audit = await db.prisma.auditLog.create({ data: { actor: 'a', action: 'b' } });
    expect(typeof audit.id).toBe('bigint');
    const usage = await db.prisma.usageDaily.create({
      data: { day: new Date('2025-01-01'), credentialId: 'c1', model: 'm' },
    });
    expect(usage).toMatchObject({ clientKeyId: '', requests: 0, inputTokens: 0n });
  });

  it('cascades deleting a provider config to its credentials', async () => {
    await db.prisma.providerConfig.delete({ where: { id: 'p1' } });
    expect(await db.prisma.credential.findUnique({ where: { id: 'c1' } })).toBeNull();
  });
});
