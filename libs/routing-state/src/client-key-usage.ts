import { Injectable, Logger } from '@nestjs/common';
import type { AttemptResult } from '@cpa/contracts';
import { ClientKeyLimits, type ClientKeyCharge } from '@cpa/catalog';

/** What a result costs its client key: input + output tokens as the upstream reported them. */
export function chargesOf(results: readonly AttemptResult[]): ClientKeyCharge[] {
  return results
    .filter((result) => result.clientKeyId)
    .map((result) => ({ clientKeyId: result.clientKeyId!, tokens: (result.usage?.inputTokens ?? 0) + (result.usage?.outputTokens ?? 0) }));
}

/**
 * Charges finished requests to their client keys' tpm window and day/month budgets in
 * Redis as soon as the scheduler hears of them (beside UsageRecorder, which counts them
 * for Postgres once per second). Gateways read these counters before admitting a key's
 * next request, so a budget spent by a request stops the next one, never a running one.
 * A failed charge (Redis away) is logged and lost for the limits; the Postgres usage
 * still gets it through the recorder's buffer.
 */
@Injectable()
export class ClientKeyUsageHook {
  private readonly logger = new Logger(ClientKeyUsageHook.name);
  private failing = false;

  constructor(private readonly limits: ClientKeyLimits) {}

  record(results: readonly AttemptResult[], now = Date.now()): void {
    const charges = chargesOf(results);
    if (charges.length === 0) return;
    this.limits.charge(charges, now).then(
      () => {
        if (this.failing) this.logger.log('client key usage charges reach Redis again');
        this.failing = false;
      },
      (err: unknown) => {
        if (!this.failing) this.logger.warn(`client key usage not charged to limits and budgets: ${(err as Error).message}`);
        this.failing = true;
      },
    );
  }
}
