import { Injectable } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { CatalogPublisher } from '@cpa/catalog';
import { Events } from '@cpa/contracts';
import type { RefreshOutcome } from '@cpa/providers/refresh';
import { RedisTransportClient } from '@cpa/transport';

/**
 * After tokens were rotated: republishes the catalog snapshot (with the credential's new
 * encrypted secret and version, which executors read instead of Postgres), then tells every
 * executor to drop its cached secret. When a refused grant marked the credential as needing
 * a new login: republishes, then tells every catalog to reload so routing stops picking it.
 */
@Injectable()
export class RotationAnnouncer {
  constructor(
    private readonly transport: RedisTransportClient,
    private readonly catalog: CatalogPublisher,
  ) {}

  async announce(outcome: RefreshOutcome): Promise<void> {
    if (outcome.status === 'refreshed') {
      await this.catalog.publishQuietly();
      await lastValueFrom(this.transport.emit(Events.credentialRotated, { id: outcome.credentialId }), { defaultValue: undefined });
    } else if (outcome.status === 'failed' && outcome.permanent) {
      await this.catalog.publishQuietly();
      await lastValueFrom(this.transport.emit(Events.credentialChanged, { credentialIds: [outcome.credentialId], at: Date.now() }), { defaultValue: undefined });
    }
  }
}
