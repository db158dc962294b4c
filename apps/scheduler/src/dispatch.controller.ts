import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Catalog } from '@cpa/catalog';
import { Events, ManagementEvents, Patterns, type AttemptFailure, type AttemptResult, type RouteRequest } from '@cpa/contracts';
import { DispatchService, UsageRecorder, type NextRound } from '@cpa/routing-state';

const QuotaResetSchema = z.object({ credentialId: z.string().min(1) });

@Controller()
export class DispatchController {
  constructor(
    private readonly dispatcher: DispatchService,
    private readonly catalog: Catalog,
    private readonly usage: UsageRecorder,
  ) {}

  @MessagePattern(Patterns.dispatch)
  dispatch(@Payload() route: RouteRequest) {
    return this.dispatcher.dispatch(route);
  }

  /** Forwarded by an executor: the reply obligation is ours again. */
  @MessagePattern(Patterns.attemptFailed)
  attemptFailed(@Payload() failure: AttemptFailure) {
    this.usage.recordFailure(failure);
    return this.dispatcher.attemptFailed(failure);
  }

  /** A request parked for a cooldown (by any scheduler) is due: its next round starts here. */
  @MessagePattern(Patterns.nextRound)
  nextRound(@Payload() next: NextRound) {
    return this.dispatcher.nextRound(next);
  }

  /** Executors send their results in batches; a lone result is what executors of earlier versions send. */
  @EventPattern(Patterns.attemptResult)
  attemptResult(@Payload() results: AttemptResult[] | AttemptResult) {
    const batch = Array.isArray(results) ? results : [results];
    for (const result of batch) this.usage.record(result);
    return this.dispatcher.attemptsFinished(batch);
  }

  @EventPattern(Events.configChanged)
  async onConfigChanged() {
    await this.catalog.reload();
    await this.dispatcher.catalogChanged();
  }

  @EventPattern(Events.credentialChanged)
  async onCredentialChanged() {
    await this.catalog.reload();
    await this.dispatcher.catalogChanged();
  }

  @EventPattern(ManagementEvents.credentialQuotaReset)
  async onQuotaReset(@Payload() event: unknown) {
    const parsed = QuotaResetSchema.safeParse(event);
    if (parsed.success) await this.dispatcher.resetQuota(parsed.data.credentialId);
  }
}
