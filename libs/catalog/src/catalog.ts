import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, type Provider } from '@nestjs/common';
import type { CatalogClientKey, CatalogDocument } from './catalog-document';
import { CatalogStore } from './catalog-store';
import { hasTokenLimits, policyOf } from './client-key-policy';
import { DEFAULT_ROUTING_SETTINGS, type CredentialInfo, type RoutingSettings } from './catalog.types';
import { toCredentialInfo } from './credential-info';
import { ModelRegistry, oauthModelRulesFrom } from './model-registry';
import { routingSettingsFrom } from './settings';

/** A credential's secret as published: still encrypted (SecretBox), with the version it belongs to. */
export interface EncryptedSecret {
  version: number;
  secretEnc: string;
}

/** A consistent view of what routing needs, swapped atomically on reload. */
export interface CatalogSnapshot {
  credentials: readonly CredentialInfo[];
  byId: ReadonlyMap<string, CredentialInfo>;
  settings: RoutingSettings;
  registry: ModelRegistry;
  /** Raw settings rows, for consumers with keys of their own. */
  rawSettings: Readonly<Record<string, unknown>>;
  loadedAt: number;
  /** Generation of the published document this came from; 0 before one was read. */
  generation: number;
  /** Encrypted secrets by credential id (executors open them with CPA_SECRET_KEY). */
  secrets: ReadonlyMap<string, EncryptedSecret>;
  /** Client keys by their SHA-256 (`hashClientKey`). */
  clientKeys: ReadonlyMap<string, CatalogClientKey>;
}

type SnapshotExtras = Partial<Pick<CatalogSnapshot, 'generation' | 'secrets' | 'clientKeys'>>;

function snapshotOf(
  credentials: CredentialInfo[],
  rawSettings: Record<string, unknown>,
  extras: SnapshotExtras = {},
): CatalogSnapshot {
  const settings = routingSettingsFrom(rawSettings);
  const sorted = [...credentials].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    credentials: sorted,
    byId: new Map(sorted.map((c) => [c.id, c])),
    settings,
    registry: new ModelRegistry(sorted, settings.forceModelPrefix, oauthModelRulesFrom(rawSettings)),
    rawSettings,
    loadedAt: Date.now(),
    generation: extras.generation ?? 0,
    secrets: extras.secrets ?? new Map(),
    clientKeys: extras.clientKeys ?? new Map(),
  };
}

/** The in-memory view of a published document. */
export function snapshotOfDocument(document: CatalogDocument): CatalogSnapshot {
  const credentials = document.credentials.map(toCredentialInfo).filter((c): c is CredentialInfo => c !== undefined);
  return snapshotOf(credentials, document.settings, {
    generation: document.generation,
    secrets: new Map(document.credentials.map((c) => [c.id, { version: c.version, secretEnc: c.secretEnc }])),
    clientKeys: new Map(document.clientKeys.map((k) => [k.hash, k])),
  });
}

export const EMPTY_SNAPSHOT: CatalogSnapshot = snapshotOf([], {});

const tokenLimited = new WeakMap<CatalogSnapshot['clientKeys'], ReadonlySet<string>>();

/**
 * Ids of the snapshot's client keys with a tpm limit or a token budget (`hasTokenLimits`):
 * the only keys whose usage the schedulers charge to Redis. Worked out once per snapshot.
 */
export function tokenLimitedKeyIds(snapshot: Pick<CatalogSnapshot, 'clientKeys'>): ReadonlySet<string> {
  let ids = tokenLimited.get(snapshot.clientKeys);
  if (ids === undefined) {
    ids = new Set(
      [...snapshot.clientKeys.values()].filter((key) => hasTokenLimits(policyOf(key))).map((key) => key.id),
    );
    tokenLimited.set(snapshot.clientKeys, ids);
  }
  return ids;
}

export const CATALOG_STORE = Symbol('CATALOG_STORE');

/** First retry after a failed start; doubles up to RETRY_MAX_MS while no snapshot was ever read. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * Every hot-path service (gateway, scheduler, executors) keeps one catalog in memory, read
 * from the snapshot the admin publishes to Redis (never from Postgres). It re-reads on
 * `config.changed` / `credential.changed` / `credential.rotated` (published after the
 * snapshot), whenever its Redis connection comes back, and on a cheap timer that compares
 * generations (`CATALOG_RELOAD_MS`, 5 s). A document older than the one held is ignored; a
 * failed read keeps the current catalog, and a service that starts without Redis (or
 * before the first publish) starts empty, retries with backoff and never crashes.
 */
@Injectable()
export class Catalog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Catalog.name);
  private current: CatalogSnapshot = { ...EMPTY_SNAPSHOT, settings: DEFAULT_ROUTING_SETTINGS };
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private running?: Promise<CatalogSnapshot>;
  private queued?: Promise<CatalogSnapshot>;
  private failing = false;
  private destroyed = false;

  constructor(@Inject(CATALOG_STORE) private readonly store: CatalogStore) {}

  get snapshot(): CatalogSnapshot {
    return this.current;
  }

  /** False until a published snapshot has been read (routing would know nothing). */
  get loaded(): boolean {
    return this.current.generation > 0;
  }

  async onModuleInit(): Promise<void> {
    this.store.onReady(() => void this.reload());
    await this.reload();
    if (!this.loaded) {
      this.logger.warn(
        'no catalog snapshot in Redis yet (Redis unreachable, or the admin has not published); retrying',
      );
      this.retryUntilLoaded(RETRY_MIN_MS);
    }
    const safetyMs = Number(process.env.CATALOG_RELOAD_MS ?? 5_000);
    if (safetyMs > 0) {
      this.timer = setInterval(() => void this.reload(), safetyMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /**
   * Reads the published snapshot when it is newer than the one held. Resolves after a read
   * that started after this call (concurrent calls share one); never rejects.
   */
  reload(): Promise<CatalogSnapshot> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running.then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<CatalogSnapshot> {
    this.running = this.load().finally(() => (this.running = undefined));
    return this.running;
  }

  private async load(): Promise<CatalogSnapshot> {
    try {
      const document = await this.store.readNewer(this.current.generation);
      if (document) this.current = snapshotOfDocument(document);
      if (this.failing) this.logger.log(`catalog snapshot readable again (generation ${this.current.generation})`);
      this.failing = false;
    } catch (err) {
      // Once per outage: the timer retries every few seconds.
      if (!this.failing)
        this.logger.warn(`catalog snapshot unreadable, keeping the current one: ${(err as Error).message}`);
      this.failing = true;
    }
    return this.current;
  }

  private retryUntilLoaded(delayMs: number): void {
    this.retryTimer = setTimeout(() => {
      void this.reload().then(() => {
        if (this.loaded) this.logger.log(`catalog snapshot loaded (generation ${this.current.generation})`);
        else if (!this.destroyed) this.retryUntilLoaded(Math.min(delayMs * 2, RETRY_MAX_MS));
      });
    }, delayMs);
    this.retryTimer.unref();
  }
}

export { snapshotOf };

/** The catalog and its Redis connection, as every hot-path service registers it. */
export function catalogProviders(redisUrl: string, keyPrefix: string): Provider[] {
  return [Catalog, { provide: CATALOG_STORE, useFactory: () => new CatalogStore(redisUrl, keyPrefix) }];
}
