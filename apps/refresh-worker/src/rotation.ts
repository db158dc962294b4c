import { lastValueFrom } from 'rxjs';
import { Events } from '@cpa/contracts';
import type { RefreshOutcome } from '@cpa/providers';
import type { RedisTransportClient } from '@cpa/transport';

/** Tells every executor to drop its cached secret of a credential whose tokens were just rotated. */
export async function announceRotation(transport: RedisTransportClient, outcome: RefreshOutcome): Promise<void> {
  if (outcome.status !== 'refreshed') return;
  await lastValueFrom(transport.emit(Events.credentialRotated, { id: outcome.credentialId }), { defaultValue: undefined });
}
