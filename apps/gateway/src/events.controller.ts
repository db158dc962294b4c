import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Catalog } from '@cpa/catalog';
import { ClientKeyService } from '@cpa/client-api';
import { Events } from '@cpa/contracts';

/** Broadcast events: reload what the gateway caches. */
@Controller()
export class EventsController {
  constructor(
    private readonly catalog: Catalog,
    private readonly clientKeys: ClientKeyService,
  ) {}

  @EventPattern(Events.configChanged)
  async onConfigChanged() {
    this.clientKeys.invalidate();
    await this.catalog.reload();
  }

  @EventPattern(Events.credentialChanged)
  async onCredentialChanged() {
    await this.catalog.reload();
  }
}
