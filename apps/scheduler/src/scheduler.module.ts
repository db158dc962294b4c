import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { catalogProviders, clientKeyLimitsProvider } from '@cpa/catalog';
import { loadEnv } from '@cpa/config';
import { HealthController } from '@cpa/runtime';
import {
  ClientKeyUsageHook,
  DispatchService,
  ROUTING_STATE_OPTIONS,
  RoutingStateStore,
  UsageBuffer,
  UsageRecorder,
} from '@cpa/routing-state';
import { DispatchController } from './dispatch.controller';

const env = loadEnv();

@Module({
  // No DbModule: the catalog comes from Redis, usage goes to a Redis buffer the admin drains.
  controllers: [HealthController, DispatchController],
  providers: [
    ...catalogProviders(env.redisUrl, env.transportKeyPrefix),
    DispatchService,
    RoutingStateStore,
    UsageBuffer,
    UsageRecorder,
    // Client keys' token windows and budgets, charged as results arrive.
    clientKeyLimitsProvider(env.redisUrl, env.transportKeyPrefix),
    ClientKeyUsageHook,
    { provide: ROUTING_STATE_OPTIONS, useValue: { redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix } },
  ],
})
export class SchedulerModule implements OnApplicationBootstrap {
  constructor(private readonly dispatcher: DispatchService) {}

  /** Remembers which credentials are enabled, so later reloads can drop bindings of disabled ones. */
  async onApplicationBootstrap(): Promise<void> {
    await this.dispatcher.catalogChanged();
  }
}
