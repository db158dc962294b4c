import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type Provider,
} from '@nestjs/common';
import type { CatalogRows } from '@cpa/db';
import { catalogDocumentOf } from './catalog-document';
import { CatalogStore } from './catalog-store';

/** Where the publisher reads the catalog from: `CatalogSourceRepository` of @cpa/db. */
export interface CatalogSource {
  read(): Promise<CatalogRows>;
}
/** Bind to CatalogSourceRepository (`useExisting`); a token keeps @cpa/catalog free of Prisma at run time. */
export const CATALOG_SOURCE = Symbol('CATALOG_SOURCE');
export const CATALOG_PUBLISHER_STORE = Symbol('CATALOG_PUBLISHER_STORE');

/** How often the publisher checks that Redis still holds a snapshot (it is lost when Redis restarts empty). */
const KEEP_ALIVE_MS = Number(process.env.CATALOG_KEEP_ALIVE_MS ?? 2_000);

/**
 * Publishes the catalog snapshot read from Postgres to Redis. Called before every change
 * event (config.changed, credential.changed, credential.rotated), so a service that reloads
 * on the event reads the new snapshot. Concurrent calls coalesce into one more publish that
 * starts after all of them (so each caller's committed change is in it); the generation is
 * taken before Postgres is read, which makes the newest generation hold the newest data.
 */
@Injectable()
export class CatalogPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CatalogPublisher.name);
  private running?: Promise<number>;
  private queued?: Promise<number>;
  private stale = true;
  private timer?: NodeJS.Timeout;
  private lastGeneration = 0;
  private failing = false;

  constructor(
    @Inject(CATALOG_SOURCE) private readonly source: CatalogSource,
    @Inject(CATALOG_PUBLISHER_STORE) private readonly store: CatalogStore,
  ) {}

  /** Publishes at start, then keeps a snapshot in Redis: after a failed publish or a Redis restart it publishes again. */
  async onApplicationBootstrap(): Promise<void> {
    await this.publishQuietly();
    if (KEEP_ALIVE_MS > 0) {
      this.timer = setInterval(() => void this.keepAlive(), KEEP_ALIVE_MS);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Resolves with the generation written (or superseded); rejects when Postgres or Redis failed. */
  publish(): Promise<number> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** `publish()` that logs instead of rejecting: the change is committed, and keep-alive retries. */
  async publishQuietly(): Promise<void> {
    try {
      await this.publish();
      if (this.failing) this.logger.log('catalog snapshot published again');
      this.failing = false;
    } catch (err) {
      // Once per outage, not once per retry.
      if (!this.failing)
        this.logger.warn(
          `catalog snapshot not published, retrying every ${KEEP_ALIVE_MS} ms: ${(err as Error).message}`,
        );
      this.failing = true;
    }
  }

  private start(): Promise<number> {
    this.running = this.write().finally(() => (this.running = undefined));
    return this.running;
  }

  private async write(): Promise<number> {
    this.stale = true;
    const generation = await this.store.nextGeneration();
    const rows = await this.source.read();
    await this.store.write(catalogDocumentOf(rows, generation));
    this.stale = false;
    this.lastGeneration = generation;
    return generation;
  }

  private async keepAlive(): Promise<void> {
    if (this.running) return;
    let missing = this.stale;
    if (!missing)
      missing = await this.store.generation().then(
        (g) => g < this.lastGeneration,
        () => false,
      );
    if (missing) await this.publishQuietly();
  }
}

/** The publisher and its Redis connection; the application also binds CATALOG_SOURCE. */
export function catalogPublisherProviders(redisUrl: string, keyPrefix: string): Provider[] {
  return [
    CatalogPublisher,
    { provide: CATALOG_PUBLISHER_STORE, useFactory: () => new CatalogStore(redisUrl, keyPrefix) },
  ];
}
