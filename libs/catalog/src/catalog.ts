import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit, type Provider } from '@nestjs/common';
import { PrismaService } from '@cpa/db';
import { CATALOG_CACHE, RedisCatalogCache, type CatalogCache } from './catalog-cache';
import { DEFAULT_ROUTING_SETTINGS, type CredentialInfo, type RoutingSettings } from './catalog.types';
import { toCredentialInfo, type CredentialRow } from './credential-info';
import { ModelRegistry, oauthModelRulesFrom } from './model-registry';
import { routingSettingsFrom } from './settings';

/** A consistent view of what routing needs, swapped atomically on reload. */
export interface CatalogSnapshot {
  credentials: readonly CredentialInfo[];
  byId: ReadonlyMap<string, CredentialInfo>;
  settings: RoutingSettings;
  registry: ModelRegistry;
  /** Raw settings rows, for consumers with keys of their own. */
  rawSettings: Readonly<Record<string, unknown>>;
  loadedAt: number;
}

function snapshotOf(credentials: CredentialInfo[], rawSettings: Record<string, unknown>): CatalogSnapshot {
  const settings = routingSettingsFrom(rawSettings);
  const sorted = [...credentials].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    credentials: sorted,
    byId: new Map(sorted.map((c) => [c.id, c])),
    settings,
    registry: new ModelRegistry(sorted, settings.forceModelPrefix, oauthModelRulesFrom(rawSettings)),
    rawSettings,
    loadedAt: Date.now(),
  };
}

export const EMPTY_SNAPSHOT: CatalogSnapshot = snapshotOf([], {});

/** What a load reads from Postgres: plain JSON, so the same shape can be kept in the cache. */
interface CatalogSource {
  rows: CredentialRow[];
  settings: Record<string, unknown>;
}

function snapshotOfSource(source: CatalogSource): CatalogSnapshot {
  const credentials = source.rows.map(toCredentialInfo).filter((c): c is CredentialInfo => c !== undefined);
  return snapshotOf(credentials, source.settings);
}

/** How often a service that could not load its catalog tries again. */
const RETRY_MS = 2_000;

/**
 * Every service keeps one catalog in memory and reloads it when a `config.changed` or
 * `credential.changed` event arrives (and on a slow safety interval), so the request
 * path never queries Postgres. A failed reload keeps the current snapshot; a service that
 * starts while Postgres is down takes the last snapshot kept in Redis and retries.
 */
@Injectable()
export class Catalog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Catalog.name);
  private current: CatalogSnapshot = { ...EMPTY_SNAPSHOT, settings: DEFAULT_ROUTING_SETTINGS };
  private timer?: NodeJS.Timeout;
  private reloading?: Promise<CatalogSnapshot>;
  private reloadAgain = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly prisma: PrismaService,
    @Optional() @Inject(CATALOG_CACHE) private readonly cache?: CatalogCache,
  ) {}

  get snapshot(): CatalogSnapshot {
    return this.current;
  }

  async onModuleInit(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      await this.startFromCache(err);
    }
    const safetyMs = Number(process.env.CATALOG_RELOAD_MS ?? 30_000);
    if (safetyMs > 0) {
      this.timer = setInterval(() => void this.reload(), safetyMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /**
   * Reloads from Postgres; concurrent calls coalesce into at most one extra load. Never
   * rejects: when Postgres cannot be read the current snapshot stays (and is returned).
   */
  reload(): Promise<CatalogSnapshot> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.load()
      .catch((err: unknown) => {
        this.logger.warn(`catalog reload failed, keeping the current one: ${(err as Error).message}`);
        return this.current;
      })
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  private async startFromCache(cause: unknown): Promise<void> {
    const cached = await this.cache?.load().catch(() => null);
    if (cached) {
      this.current = snapshotOfSource(JSON.parse(cached) as CatalogSource);
      this.logger.warn(`Postgres unreachable (${(cause as Error).message}); routing with the last catalog kept in Redis`);
    } else {
      this.logger.warn(`Postgres unreachable (${(cause as Error).message}) and no catalog kept in Redis; starting empty`);
    }
    this.retryUntilLoaded();
  }

  private retryUntilLoaded(): void {
    this.retryTimer = setTimeout(() => {
      this.load().then(
        () => this.logger.log('catalog loaded from Postgres'),
        () => this.retryUntilLoaded(),
      );
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private async load(): Promise<CatalogSnapshot> {
    const [rows, settings] = await Promise.all([
      this.prisma.credential.findMany({
        select: {
          id: true, provider: true, kind: true, label: true, prefix: true, priority: true, weight: true,
          disabled: true, status: true, baseUrl: true, proxyUrl: true, attributes: true, version: true,
          providerConfig: { select: { name: true, baseUrl: true, prefix: true, disabled: true, models: true, headers: true } },
        },
      }),
      this.prisma.setting.findMany(),
    ]);
    const source: CatalogSource = { rows, settings: Object.fromEntries(settings.map((s) => [s.key, s.value as unknown])) };
    this.current = snapshotOfSource(source);
    void this.cache?.save(JSON.stringify(source));
    return this.current;
  }
}

export { snapshotOf };

/** The catalog with its copy in Redis, as every routing service registers it. */
export function catalogProviders(redisUrl: string, keyPrefix: string): Provider[] {
  return [Catalog, { provide: CATALOG_CACHE, useFactory: () => new RedisCatalogCache(redisUrl, keyPrefix) }];
}
