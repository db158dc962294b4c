import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Events } from '@cpa/contracts';
import { RefreshQueueService } from './refresh-queue.service';

const ChangedCredentials = z.looseObject({
  id: z.string().optional(),
  credentialIds: z.array(z.string()).optional(),
});

/**
 * A credential added or edited between scans (e.g. a new login with a short-lived token)
 * is checked right away instead of at the next scan; the job decides whether it is due.
 */
@Controller()
export class EventsController {
  constructor(private readonly queue: RefreshQueueService) {}

  @EventPattern(Events.configChanged)
  async onConfigChanged(@Payload() event: unknown): Promise<void> {
    await this.queue.enqueue(changedIds(event));
  }

  @EventPattern(Events.credentialChanged)
  async onCredentialChanged(@Payload() event: unknown): Promise<void> {
    await this.queue.enqueue(changedIds(event));
  }
}

export function changedIds(event: unknown): string[] {
  const parsed = ChangedCredentials.safeParse(event);
  if (!parsed.success) return [];
  const ids = new Set(parsed.data.credentialIds ?? []);
  if (parsed.data.id) ids.add(parsed.data.id);
  return [...ids];
}
