import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from './testing';
import { SecretBox } from './crypto/secret-box';
import { DbModule } from './db.module';
import { CredentialRepository } from './repositories/credential.repository';
import { SettingsRepository } from './repositories/settings.repository';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.close());

@Injectable()
class Consumer {
  constructor(readonly settings: SettingsRepository) {}
}

@Module({ providers: [Consumer] })
class FeatureModule {}

async function connectionsTo(url: string): Promise<number> {
  const name = new URL(url).pathname.slice(1);
  const { rows } = await db.raw.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
  return rows[0].n as number;
}

describe('DbModule', () => {
  it('provides connected repositories to any module and disconnects on close', async () => {
    const idle = await connectionsTo(db.url);
    const app = await NestFactory.createApplicationContext(
      { module: class AppModule {}, imports: [DbModule.forRoot({ databaseUrl: db.url }), FeatureModule] },
      { logger: false },
    );
    await app.init();
    const consumer = app.get(Consumer);
    await consumer.settings.set('from-module', 1);
    const { rows } = await db.raw.query(`SELECT value FROM settings WHERE key = 'from-module'`);
    expect(rows).toEqual([{ value: 1 }]);

    const credentials = app.get(CredentialRepository);
    const created = await credentials.create({ provider: 'claude', kind: 'api_key', secret: { apiKey: 'k' } });
    expect(await credentials.getSecret(created.id)).toEqual({ apiKey: 'k' });
    // The module's SecretBox comes from CPA_SECRET_KEY, so any service with the same key can decrypt.
    expect(app.get(SecretBox).source).toBe('env');

    expect(await connectionsTo(db.url)).toBeGreaterThan(idle);
    await app.close();
    await vi.waitFor(async () => expect(await connectionsTo(db.url)).toBe(idle), { timeout: 10_000 });
  });
});
