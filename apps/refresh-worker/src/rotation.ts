import { lastValueFrom } from 'rxjs';
import { Events } from '@cpa/contracts';
import type { RefreshOutcome } from '@cpa/providers';
import type { RedisTransportClient } from '@cpa/transport';

/**
 * Tells every executor to drop its cached secret of a credential whose tokens were just
 * rotated; when a refused grant marked the credential as needing a new login, tells every
 * catalog to reload so routing stops picking it.
 */
export async function announceRotation(transport: RedisTransportClient, outcome: RefreshOutcome): Promise<void> {
  if (outcome.status === 'refreshed') {
    await lastValueFrom(transport.emit(Events.credentialRotated, { id: outcome.credentialId }), { defaultValue: undefined });
  } else if (outcome.status === 'failed' && outcome.permanent) {
    await lastValueFrom(transport.emit(Events.credentialChanged, { credentialIds: [outcome.credentialId], at: Date.now() }), { defaultValue: undefined });
  }
}
