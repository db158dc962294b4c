import { Module } from '@nestjs/common';
import { Catalog } from '@cpa/catalog';
import { loadEnv } from '@cpa/config';
import { DbModule } from '@cpa/db';
import { HealthController } from '@cpa/runtime';
import { DispatchService, ROUTING_STATE_OPTIONS, RoutingStateStore } from '@cpa/routing-state';
import { DispatchController } from './dispatch.controller';

const env = loadEnv();

@Module({
  imports: [DbModule],
  controllers: [HealthController, DispatchController],
  providers: [
    Catalog,
    DispatchService,
    RoutingStateStore,
    { provide: ROUTING_STATE_OPTIONS, useValue: { redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix } },
  ],
})
export class SchedulerModule {}
