import { Module } from '@nestjs/common';
import { catalogProviders } from '@cpa/catalog';
import { ClientKeyService, GATEWAY_OPTIONS, GatewayService } from '@cpa/client-api';
import { loadEnv } from '@cpa/config';
import { DbModule } from '@cpa/db';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { EventsController } from './events.controller';
import { ADMIN_URL, ManagementController } from './management.controller';
import { ModelsController } from './models.controller';

const env = loadEnv();

@Module({
  imports: [DbModule, TransportModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix, idleTimeoutMs: env.replyIdleTimeoutMs })],
  controllers: [HealthController, ModelsController, ManagementController, EventsController],
  providers: [
    ...catalogProviders(env.redisUrl, env.transportKeyPrefix),
    ClientKeyService,
    GatewayService,
    {
      provide: GATEWAY_OPTIONS,
      useValue: { requestTimeoutMs: Number(process.env.REQUEST_TIMEOUT_MS ?? 10 * 60_000), bodyLimitBytes: env.bodyLimitBytes },
    },
    { provide: ADMIN_URL, useValue: env.adminUrl },
  ],
})
export class GatewayModule {}
