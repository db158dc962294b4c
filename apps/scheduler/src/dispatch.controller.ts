import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Catalog } from '@cpa/catalog';
import { Events, ManagementEvents, Patterns, type AttemptFailure, type AttemptResult, type RouteRequest } from '@cpa/contracts';
import { DispatchService, UsageRecorder } from '@cpa/routing-state';
import type { RedisTransportContext } from '@cpa/transport';

const QuotaResetSchema = z.object({ credentialId: z.string().min(1) });

@Controller()
export class DispatchController {
  constructor(
    private readonly dispatcher: DispatchService,
    private readonly catalog: Catalog,
    private readonly usage: UsageRecorder,
  ) {}

  /** The context cancels a cooldown wait when the client goes away. */
  @MessagePattern(Patterns.dispatch)
  dispatch(@Payload() route: RouteRequest, @Ctx() ctx: RedisTransportContext) {
    return this.dispatcher.dispatch(route, ctx);
  }

  /** Forwarded by an executor: the reply obligation is ours again. */
  @MessagePattern(Patterns.attemptFailed)
  attemptFailed(@Payload() failure: AttemptFailure, @Ctx() ctx: RedisTransportContext) {
    this.usage.recordFailure(failure);
    return this.dispatcher.attemptFailed(failure, ctx);
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
