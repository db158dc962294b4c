import { Controller, Logger } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Catalog } from '@cpa/catalog';
import { Events, Patterns, type ExecuteRequest } from '@cpa/contracts';
import { ExecutionService, SecretStore } from '@cpa/providers';
import { noteOffHeapArrival, withRequestId } from '@cpa/runtime';
import type { RedisTransportContext } from '@cpa/transport';
import { EXECUTOR_FAMILY } from './family';

@Controller()
export class ExecuteController {
  private readonly logger = new Logger(ExecuteController.name);

  constructor(
    private readonly execution: ExecutionService,
    private readonly catalog: Catalog,
    private readonly secrets: SecretStore,
  ) {}

  /**
   * Marked started before anything is sent upstream: from then on the transport never
   * delivers this request again (an upstream call must not run twice); before it, a crash
   * of this process hands the request to a live executor. The context also carries the
   * client's backpressure to the upstream read.
   */
  @MessagePattern(Patterns.execute(EXECUTOR_FAMILY))
  execute(@Payload() req: ExecuteRequest, @Ctx() ctx: RedisTransportContext) {
    return withRequestId(req.route?.requestId, async () => {
      this.logger.debug(`attempt ${req.attempt + 1} for ${req.upstreamModel} on credential ${req.credentialId}`);
      await ctx.start();
      const body = ctx.getBody() ?? Buffer.alloc(0);
      noteOffHeapArrival(body.length);
      return this.execution.execute(req, body, ctx.signal, ctx);
    });
  }

  @EventPattern(Events.configChanged)
  async onConfigChanged() {
    await this.catalog.reload();
  }

  @EventPattern(Events.credentialChanged)
  async onCredentialChanged() {
    await this.catalog.reload();
  }

  @EventPattern(Events.credentialRotated)
  async onCredentialRotated(@Payload() event: { id?: string }) {
    this.secrets.forget(event?.id);
    await this.catalog.reload();
  }
}
