import { Injectable, Logger } from '@nestjs/common';
import { CatalogPublisher } from '@cpa/catalog';
import { Events, type ConfigChangedEvent, type CredentialQuotaResetEvent } from '@cpa/contracts';
import { RedisTransportClient } from '@cpa/transport';
import { lastValueFrom } from 'rxjs';

/** Publishes change broadcasts so every replica of every service reloads. */
export abstract class ChangeNotifier {
  abstract publish(event: string, payload: object): Promise<void>;

  configChanged(sections: string[], credentialIds?: string[]): Promise<void> {
    const payload: ConfigChangedEvent = { sections, ...(credentialIds ? { credentialIds } : {}), at: Date.now() };
    return this.publish(Events.configChanged, payload);
  }

  /** A credential's own row changed (e.g. enabled or disabled): every catalog reloads. */
  credentialChanged(credentialIds: string[]): Promise<void> {
    return this.publish(Events.credentialChanged, { credentialIds, at: Date.now() });
  }

  quotaReset(credentialId: string, models: string[]): Promise<void> {
    const payload: CredentialQuotaResetEvent = { credentialId, models, at: Date.now() };
    return this.publish(Events.credentialQuotaReset, payload);
  }
}

/** Events after which every catalog reloads: the snapshot is published before them. */
const CATALOG_EVENTS: ReadonlySet<string> = new Set([Events.configChanged, Events.credentialChanged]);

/**
 * Broadcast over the Redis transport (`emit`), which every subscribed replica receives.
 * A catalog change first publishes the catalog snapshot, so every pod that reloads on the
 * event reads the new one (this is the one place management changes reach Redis).
 */
@Injectable()
export class TransportChangeNotifier extends ChangeNotifier {
  private readonly logger = new Logger('ChangeNotifier');

  constructor(
    private readonly client: RedisTransportClient,
    private readonly catalog: CatalogPublisher,
  ) {
    super();
  }

  async publish(event: string, payload: object): Promise<void> {
    if (CATALOG_EVENTS.has(event)) await this.catalog.publishQuietly();
    try {
      await lastValueFrom(this.client.emit(event, payload), { defaultValue: undefined });
    } catch (err) {
      // The change is already committed; pods also reload periodically, so a lost broadcast only delays it.
      this.logger.error(`could not publish ${event}: ${(err as Error).message}`);
    }
  }
}
