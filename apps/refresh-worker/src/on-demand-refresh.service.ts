import { Injectable, Logger } from '@nestjs/common';
import type { RefreshCredentialReply, RefreshCredentialRequest } from '@cpa/contracts';
import { CredentialRefreshService, observeRefresh, type RefreshOutcome } from '@cpa/providers/refresh';
import { RotationAnnouncer } from './rotation';

/**
 * Refresh-on-401, asked for by executors (`refresh-worker.refresh`). Across replicas the
 * credential claim in Postgres lets one refresh through; within this process concurrent
 * requests about the same refused token share that one refresh.
 */
@Injectable()
export class OnDemandRefreshService {
  private readonly logger = new Logger('OnDemandRefresh');
  private readonly inFlight = new Map<string, Promise<RefreshOutcome>>();

  constructor(
    private readonly refresher: CredentialRefreshService,
    private readonly announcer: RotationAnnouncer,
  ) {}

  async refreshRejected(request: RefreshCredentialRequest): Promise<RefreshCredentialReply> {
    const key = `${request.credentialId}\n${request.rejectedToken}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.run(request).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    try {
      return replyOf(await pending);
    } catch (error) {
      this.logger.error(
        `refresh of credential ${request.credentialId} after a 401 failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return { ok: false, reason: 'refresh failed' };
    }
  }

  private async run(request: RefreshCredentialRequest): Promise<RefreshOutcome> {
    const outcome = await this.refresher.refreshRejected(request.credentialId, request.rejectedToken);
    observeRefresh('on_demand', outcome);
    await this.announcer.announce(outcome);
    return outcome;
  }
}

/** What the executor needs to know: whether tokens newer than the refused ones are stored. */
export function replyOf(outcome: RefreshOutcome): RefreshCredentialReply {
  switch (outcome.status) {
    case 'refreshed':
    case 'current':
      return { ok: true, version: outcome.version };
    case 'failed':
      return { ok: false, reason: outcome.error };
    case 'skipped':
      // Someone else stored different tokens meanwhile: those are newer than the refused ones.
      return outcome.reason === 'refreshed-elsewhere' ? { ok: true } : { ok: false, reason: outcome.reason };
  }
}
