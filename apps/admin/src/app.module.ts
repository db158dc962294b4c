import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import type { Env } from '@cpa/config';
import { DbModule, type SecretBox } from '@cpa/db';
import { ConfigImportService, ManagementModule } from '@cpa/management';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { ManagementController } from './management.controller';

export const ADMIN_ENV = Symbol('ADMIN_ENV');

/** Imports CONFIG_FILE (or ./config.yaml) before the server starts listening. */
@Injectable()
class StartupImport implements OnApplicationBootstrap {
  constructor(
    @Inject(ADMIN_ENV) private readonly env: Env,
    private readonly importer: ConfigImportService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.configFile) await this.importer.importFile(this.env.configFile);
  }
}

export interface AdminModuleOptions {
  env: Env;
  /** Overrides SecretBox.fromEnv() (tests). */
  secretBox?: SecretBox;
}

@Module({})
export class AdminModule {
  static forRoot({ env, secretBox }: AdminModuleOptions): DynamicModule {
    return {
      module: AdminModule,
      imports: [
        DbModule.forRoot({ databaseUrl: env.databaseUrl, secretBox }),
        TransportModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
        ManagementModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
      ],
      controllers: [HealthController, ManagementController],
      providers: [{ provide: ADMIN_ENV, useValue: env }, StartupImport],
    };
  }
}
