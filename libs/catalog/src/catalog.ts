import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PrismaService } from '@cpa/db';
import { DEFAULT_ROUTING_SETTINGS, type CredentialInfo, type RoutingSettings } from './catalog.types';
import { toCredentialInfo } from './credential-info';
import { ModelRegistry } from './model-registry';
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
    registry: new ModelRegistry(sorted, settings.forceModelPrefix),
    rawSettings,
    loadedAt: Date.now(),
  };
}

export const EMPTY_SNAPSHOT: CatalogSnapshot = snapshotOf([], {});

/**
 * Every service keeps one catalog in memory and reloads it when a `config.changed` or
 * `credential.changed` event arrives (and on a slow safety interval), so the request
 * path never queries Postgres.
 */
@Injectable()
export class Catalog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Catalog.name);
  private current: CatalogSnapshot = { ...EMPTY_SNAPSHOT, settings: DEFAULT_ROUTING_SETTINGS };
  private timer?: NodeJS.Timeout;
  private reloading?: Promise<CatalogSnapshot>;
  private reloadAgain = false;

  constructor(private readonly prisma: PrismaService) {}

  get snapshot(): CatalogSnapshot {
    return this.current;
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    const safetyMs = Number(process.env.CATALOG_RELOAD_MS ?? 30_000);
    if (safetyMs > 0) {
      this.timer = setInterval(() => void this.reload().catch((err) => this.logger.warn(`reload failed: ${String(err)}`)), safetyMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reloads from Postgres; concurrent calls coalesce into at most one extra load. */
  reload(): Promise<CatalogSnapshot> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.load().finally(() => {
      this.reloading = undefined;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async load(): Promise<CatalogSnapshot> {
    const [rows, settings] = await Promise.all([
      this.prisma.credential.findMany({
        select: {
          id: true, provider: true, kind: true, label: true, prefix: true, priority: true, weight: true,
          disabled: true, baseUrl: true, proxyUrl: true, attributes: true, version: true,
          providerConfig: { select: { name: true, baseUrl: true, prefix: true, disabled: true, models: true, headers: true } },
        },
      }),
      this.prisma.setting.findMany(),
    ]);
    const credentials = rows.map(toCredentialInfo).filter((c): c is CredentialInfo => c !== undefined);
    this.current = snapshotOf(credentials, Object.fromEntries(settings.map((s) => [s.key, s.value as unknown])));
    return this.current;
  }
}

export { snapshotOf };
