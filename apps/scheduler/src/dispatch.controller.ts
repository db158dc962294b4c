import { Controller, Logger } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Catalog } from '@cpa/catalog';
import { Events, Patterns, type AttemptFailure, type AttemptResult, type RouteRequest } from '@cpa/contracts';
import { ClientKeyUsageHook, DispatchService, UsageRecorder, type NextRound } from '@cpa/routing-state';
import { withRequestId } from '@cpa/runtime';

const QuotaResetSchema = z.object({ credentialId: z.string().min(1) });

@Controller()
export class DispatchController {
  private readonly logger = new Logger(DispatchController.name);

  constructor(
    private readonly dispatcher: DispatchService,
    private readonly catalog: Catalog,
    private readonly usage: UsageRecorder,
    private readonly keyUsage: ClientKeyUsageHook,
  ) {}

  @MessagePattern(Patterns.dispatch)
  dispatch(@Payload() route: RouteRequest) {
    return withRequestId(route.requestId, () => {
      this.logger.debug(`dispatching a ${route.clientFormat} request for ${route.model}`);
      return this.usage.recordReply(this.dispatcher.dispatch(route), route);
    });
  }

  /** Forwarded by an executor: the reply obligation is ours again. */
  @MessagePattern(Patterns.attemptFailed)
  attemptFailed(@Payload() failure: AttemptFailure) {
    return withRequestId(failure.execute?.route?.requestId, () => {
      this.usage.recordFailure(failure);
      const { execute } = failure;
      return this.usage.recordReply(this.dispatcher.attemptFailed(failure), execute.route, {
        credentialId: execute.credentialId,
        family: execute.family,
        attempts: execute.attempt + 1,
      });
    });
  }

  /** A request parked for a cooldown (by any scheduler) is due: its next round starts here. */
  @MessagePattern(Patterns.nextRound)
  nextRound(@Payload() next: NextRound) {
    const last = next.lastFailure?.execute;
    return withRequestId(next.route?.requestId, () =>
      this.usage.recordReply(
        this.dispatcher.nextRound(next),
        next.route,
        last && { credentialId: last.credentialId, family: last.family, attempts: next.attempt },
      ),
    );
  }

  /** Executors send their results in batches; a lone result is what executors of earlier versions send. */
  @EventPattern(Patterns.attemptResult)
  attemptResult(@Payload() results: AttemptResult[] | AttemptResult) {
    const batch = Array.isArray(results) ? results : [results];
    for (const result of batch) this.usage.record(result);
    this.keyUsage.record(batch);
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

  @EventPattern(Events.credentialQuotaReset)
  async onQuotaReset(@Payload() event: unknown) {
    const parsed = QuotaResetSchema.safeParse(event);
    if (parsed.success) await this.dispatcher.resetQuota(parsed.data.credentialId);
  }
}
