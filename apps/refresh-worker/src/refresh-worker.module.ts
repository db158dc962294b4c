import { DynamicModule, Module } from '@nestjs/common';
import { loadEnv } from '@cpa/config';
import { CatalogSourceRepository, DbModule, type DbModuleOptions } from '@cpa/db';
import { TokenClient } from '@cpa/providers';
import { CredentialRefreshService } from '@cpa/providers/refresh';
import { CATALOG_SOURCE, catalogPublisherProviders } from '@cpa/catalog';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { EventsController } from './events.controller';
import { OnDemandRefreshService } from './on-demand-refresh.service';
import { RotationAnnouncer } from './rotation';
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
      imports: [
        DbModule.forRoot(db),
        TransportModule.forRoot({ redisUrl: settings.redisUrl, keyPrefix: settings.keyPrefix }),
      ],
      controllers: [HealthController, EventsController, RefreshController],
      providers: [
        { provide: REFRESH_WORKER_OPTIONS, useValue: settings },
        {
          provide: TokenClient,
          useFactory: () => new TokenClient(),
        },
        CredentialRefreshService,
        // Rotated tokens reach executors through the catalog snapshot, republished here.
        ...catalogPublisherProviders(settings.redisUrl, settings.keyPrefix),
        { provide: CATALOG_SOURCE, useExisting: CatalogSourceRepository },
        RotationAnnouncer,
        RefreshQueueService,
        OnDemandRefreshService,
      ],
      exports: [RefreshQueueService, CredentialRefreshService],
    };
  }
}
