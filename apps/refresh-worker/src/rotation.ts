import { Injectable } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { CatalogPublisher } from '@cpa/catalog';
import { Events } from '@cpa/contracts';
import type { RefreshOutcome } from '@cpa/providers/refresh';
import { RedisTransportClient } from '@cpa/transport';

/**
 * After tokens were rotated: republishes the catalog snapshot (with the credential's new
 * encrypted secret and version, which executors read instead of Postgres), then tells every
 * executor to drop its cached secret, for the credential and every sibling given the same
 * tokens (projects of one gemini file). Siblings that had been marked as needing a new login
 * are active again: every catalog reloads so routing picks them again. When a refused grant
 * marked the credential (and its siblings) as needing a new login: republishes, then tells
 * every catalog to reload so routing stops picking them.
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
      for (const id of [outcome.credentialId, ...(outcome.shared ?? [])])
        await this.emit(Events.credentialRotated, { id });
      if (outcome.reactivated?.length)
        await this.emit(Events.credentialChanged, { credentialIds: outcome.reactivated, at: Date.now() });
    } else if (outcome.status === 'failed' && outcome.permanent) {
      await this.catalog.publishQuietly();
      await this.emit(Events.credentialChanged, {
        credentialIds: [outcome.credentialId, ...(outcome.shared ?? [])],
        at: Date.now(),
      });
    }
  }

  private emit(event: string, payload: object): Promise<void> {
    return lastValueFrom(this.transport.emit(event, payload), { defaultValue: undefined });
  }
}
