import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Catalog } from '@cpa/catalog';
import { Events, Patterns, type AttemptFailure, type AttemptResult, type RouteRequest } from '@cpa/contracts';
import { DispatchService } from '@cpa/routing-state';
import type { RedisTransportContext } from '@cpa/transport';

@Controller()
export class DispatchController {
  constructor(
    private readonly dispatcher: DispatchService,
    private readonly catalog: Catalog,
  ) {}

  @MessagePattern(Patterns.dispatch)
  dispatch(@Payload() route: RouteRequest) {
    return this.dispatcher.dispatch(route);
  }

  /** Forwarded by an executor: the reply obligation is ours again. */
  @MessagePattern(Patterns.attemptFailed)
  attemptFailed(@Payload() failure: AttemptFailure, @Ctx() _ctx: RedisTransportContext) {
    return this.dispatcher.attemptFailed(failure);
  }

  @EventPattern(Patterns.attemptResult)
  attemptResult(@Payload() result: AttemptResult) {
    return this.dispatcher.attemptFinished(result);
  }

  @EventPattern(Events.configChanged)
  async onConfigChanged() {
    await this.catalog.reload();
  }

  @EventPattern(Events.credentialChanged)
  async onCredentialChanged() {
    await this.catalog.reload();
  }
}
