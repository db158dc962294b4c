import { Injectable, Logger } from '@nestjs/common';
import type { AttemptResult } from '@cpa/contracts';
import { Catalog, ClientKeyLimits, tokenLimitedKeyIds, type ClientKeyCharge } from '@cpa/catalog';

/**
 * What results cost the client keys that are `charged` (those with a tpm limit or a token
 * budget): input + output tokens as the upstream reported them. Other keys' usage only
 * goes to Postgres, where the management API reads every key's totals.
 */
export function chargesOf(results: readonly AttemptResult[], charged: ReadonlySet<string>): ClientKeyCharge[] {
  return results
    .filter((result) => result.clientKeyId && charged.has(result.clientKeyId))
    .map((result) => ({
      clientKeyId: result.clientKeyId!,
      tokens: (result.usage?.inputTokens ?? 0) + (result.usage?.outputTokens ?? 0),
    }));
}

/**
 * Charges finished requests to their client keys' tpm window and day/month budgets in
 * Redis as soon as the scheduler hears of them (beside UsageRecorder, which counts them
 * for Postgres once per second). Gateways read these counters before admitting a key's
 * next request, so a budget spent by a request stops the next one, never a running one.
 * Keys without a tpm limit or budget are not charged: nothing reads their counters (about
 * a tenth of the scheduler's CPU per request and 5 Redis commands when every key was).
 * A failed charge (Redis away) is logged and lost for the limits; the Postgres usage
 * still gets it through the recorder's buffer.
 */
@Injectable()
export class ClientKeyUsageHook {
  private readonly logger = new Logger(ClientKeyUsageHook.name);
  private failing = false;

  constructor(
    private readonly limits: ClientKeyLimits,
    private readonly catalog: Catalog,
  ) {}

  record(results: readonly AttemptResult[], now = Date.now()): void {
    const charges = chargesOf(results, tokenLimitedKeyIds(this.catalog.snapshot));
    if (charges.length === 0) return;
    this.limits.charge(charges, now).then(
      () => {
        if (this.failing) this.logger.log('client key usage charges reach Redis again');
        this.failing = false;
      },
      (err: unknown) => {
        if (!this.failing)
          this.logger.warn(`client key usage not charged to limits and budgets: ${(err as Error).message}`);
        this.failing = true;
      },
    );
  }
}
