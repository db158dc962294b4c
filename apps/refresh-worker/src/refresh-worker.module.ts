import { DynamicModule, Module } from '@nestjs/common';
import { loadEnv } from '@cpa/config';
import { DbModule, type DbModuleOptions } from '@cpa/db';
import { CredentialRefreshService, TokenClient } from '@cpa/providers';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { EventsController } from './events.controller';
import { OnDemandRefreshService } from './on-demand-refresh.service';
import { RefreshController } from './refresh.controller';
import { REFRESH_WORKER_OPTIONS, RefreshQueueService, type RefreshWorkerOptions } from './refresh-queue.service';

export interface RefreshWorkerModuleOptions extends Partial<RefreshWorkerOptions> {
  db?: DbModuleOptions;
}

@Module({})
export class RefreshWorkerModule {
  /** Settings not given come from the environment (REDIS_URL, TRANSPORT_KEY_PREFIX, DATABASE_URL). */
  static forRoot(options: RefreshWorkerModuleOptions = {}): DynamicModule {
    const { db, ...overrides } = options;
    const env = loadEnv();
    const settings: RefreshWorkerOptions = { redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix, ...overrides };
    return {
      module: RefreshWorkerModule,
      imports: [DbModule.forRoot(db), TransportModule.forRoot({ redisUrl: settings.redisUrl, keyPrefix: settings.keyPrefix })],
      controllers: [HealthController, EventsController, RefreshController],
      providers: [
        { provide: REFRESH_WORKER_OPTIONS, useValue: settings },
        {
          provide: TokenClient,
          useFactory: () => new TokenClient(),
        },
        CredentialRefreshService,
        RefreshQueueService,
        OnDemandRefreshService,
      ],
      exports: [RefreshQueueService, CredentialRefreshService],
    };
  }
}
