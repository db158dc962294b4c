import { randomUUID } from 'node:crypto';
import { CatalogSourceRepository, type PrismaService } from '@cpa/db';
import { Catalog } from './catalog';
import { CatalogPublisher } from './catalog-publisher';
import { CatalogStore } from './catalog-store';
export { testCredential } from './test-credential';

/**
 * Tests: a catalog as the hot-path services have it, fed the way production feeds it
 * (Postgres -> published snapshot in Redis -> Catalog), without starting the admin.
 */
export class PublishedCatalog {
  readonly store: CatalogStore;
  readonly catalog: Catalog;
  readonly publisher: CatalogPublisher;

  constructor(
    prisma: PrismaService,
    readonly keyPrefix = `cpa-test:${randomUUID()}:`,
    redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  ) {
    this.store = new CatalogStore(redisUrl, keyPrefix);
    this.catalog = new Catalog(this.store);
    this.publisher = new CatalogPublisher(new CatalogSourceRepository(prisma), this.store);
  }

  /** Publishes what Postgres holds now and has the catalog read it. */
  async publish(): Promise<Catalog> {
    await this.publisher.publish();
    await this.catalog.reload();
    return this.catalog;
  }

  async close(): Promise<void> {
    await this.store.redis
      .del(`${this.keyPrefix}catalog:doc`, `${this.keyPrefix}catalog:generation`)
      .catch(() => undefined);
    this.store.onModuleDestroy();
  }
}
