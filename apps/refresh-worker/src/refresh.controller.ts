import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Patterns, type RefreshCredentialReply } from '@cpa/contracts';
import { OnDemandRefreshService } from './on-demand-refresh.service';

const RefreshRequestSchema = z.object({
  credentialId: z.string().min(1),
  rejectedToken: z.string().regex(/^[0-9a-f]{16}$/),
});

/** Executors ask here for new tokens when an upstream refused an OAuth credential's token. */
@Controller()
export class RefreshController {
  constructor(private readonly onDemand: OnDemandRefreshService) {}

  @MessagePattern(Patterns.refresh)
  async refresh(@Payload() payload: unknown): Promise<RefreshCredentialReply> {
    const request = RefreshRequestSchema.safeParse(payload);
    if (!request.success) return { ok: false, reason: 'invalid refresh request' };
    return this.onDemand.refreshRejected(request.data);
  }
}
