import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { CATALOG_SOURCE, CatalogPublisher, catalogPublisherProviders, clientKeyLimitsProvider } from '@cpa/catalog';
import { CatalogSourceRepository } from '@cpa/db';
import { createRedis, type RedisConnection } from '@cpa/transport';
import { ManagementAuthGuard } from './auth.guard';
import { FAILURE_LIMITER, ManagementAuthService } from './auth.service';
import { ChangeNotifier, TransportChangeNotifier } from './change-notifier';
import { TrustedProxies } from './client-address';
import { ClientKeysService } from './client-keys.service';
import { AuthFilesService } from './auth-files.service';
import { ConfigDocumentService } from './config-document.service';
import { ConfigImportService } from './config-import.service';
import { ConfigListsService } from './config-lists.service';
import { ConsoleViewsService } from './console-views.service';
import { CredentialQuotaService } from './credential-quota.service';
import { MemoryFailureLimiter, RedisFailureLimiter, type FailureLimiter } from './failure-limiter';
import { OAuthLoginService } from './oauth-login.service';
import { OAuthModelRulesService } from './oauth-model-rules.service';
import { ScalarSettingsService } from './scalar-settings.service';
import { UsageReportService } from './usage-report';
import { UsageRequestsService } from './usage-requests';
import { RequestErrorLogsService } from './request-error-logs';
import { RequestErrorLogStore } from '@cpa/providers';

export interface ManagementModuleOptions {
  /**
   * Redis for the login-failure counters shared by all admin replicas (without it each
   * replica counts alone) and for the catalog snapshot (default redis://127.0.0.1:6379).
   */
  redisUrl?: string;
  /** Prefix of the Redis keys (the transport's key prefix). */
  keyPrefix?: string;
  /** `TRUSTED_PROXIES`: whose X-Forwarded-For names the caller (loopback always). */
  trustedProxies?: string;
}

const OPTIONS = Symbol('MANAGEMENT_OPTIONS');

/** Owns the Redis connection of the failure limiter so it closes with the application. */
@Injectable()
class LimiterHolder implements OnApplicationShutdown {
  readonly limiter: FailureLimiter;
  private readonly redis?: RedisConnection;

  constructor(@Inject(OPTIONS) options: ManagementModuleOptions) {
    if (options.redisUrl) {
      this.redis = createRedis(options.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
      this.redis.on('error', () => undefined); // failures surface on the commands that need the connection
      this.limiter = new RedisFailureLimiter(this.redis, options.keyPrefix ?? 'cpa:');
    } else {
      this.limiter = new MemoryFailureLimiter();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}

/**
 * The management API's services. Needs the global DbModule (UnitOfWork, repositories, SecretBox)
 * and TransportModule (RedisTransportClient) in the application.
 */
@Module({})
export class ManagementModule {
  static forRoot(options: ManagementModuleOptions = {}): DynamicModule {
    return {
      module: ManagementModule,
      providers: [
        { provide: OPTIONS, useValue: options },
        LimiterHolder,
        { provide: FAILURE_LIMITER, useFactory: (holder: LimiterHolder) => holder.limiter, inject: [LimiterHolder] },
        // The catalog snapshot every hot-path pod reads, published before each change event.
        ...catalogPublisherProviders(options.redisUrl ?? 'redis://127.0.0.1:6379', options.keyPrefix ?? 'cpa:'),
        { provide: CATALOG_SOURCE, useExisting: CatalogSourceRepository },
        { provide: ChangeNotifier, useClass: TransportChangeNotifier },
        ManagementAuthService,
        { provide: TrustedProxies, useFactory: () => TrustedProxies.parse(options.trustedProxies) },
        ManagementAuthGuard,
        ConfigDocumentService,
        ConfigListsService,
        ScalarSettingsService,
        CredentialQuotaService,
        ConfigImportService,
        UsageReportService,
        UsageRequestsService,
        AuthFilesService,
        OAuthModelRulesService,
        OAuthLoginService,
        ConsoleViewsService,
        // The executors' failed upstream exchanges (GET /request-error-logs), shared by every admin replica.
        {
          provide: RequestErrorLogStore,
          useFactory: () =>
            RequestErrorLogStore.connect(options.redisUrl ?? 'redis://127.0.0.1:6379', options.keyPrefix ?? 'cpa:'),
        },
        RequestErrorLogsService,
        // Client keys and the Redis counters their usage is read from.
        clientKeyLimitsProvider(options.redisUrl ?? 'redis://127.0.0.1:6379', options.keyPrefix ?? 'cpa:'),
        ClientKeysService,
      ],
      exports: [
        ManagementAuthService,
        ManagementAuthGuard,
        TrustedProxies,
        ConfigDocumentService,
        ConfigListsService,
        ScalarSettingsService,
        CredentialQuotaService,
        ConfigImportService,
        ChangeNotifier,
        CatalogPublisher,
        UsageReportService,
        UsageRequestsService,
        AuthFilesService,
        OAuthModelRulesService,
        OAuthLoginService,
        ConsoleViewsService,
        ClientKeysService,
        RequestErrorLogsService,
      ],
    };
  }
}
