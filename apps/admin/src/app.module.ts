import { Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { resolveAuthDir, type Env } from '@cpa/config';
import { DbModule, type SecretBox } from '@cpa/db';
import { AuthFilesService, ConfigImportService, ManagementModule } from '@cpa/management';
import { postgresWriterProviders } from '@cpa/routing-state/postgres';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { AuthFilesController } from './auth-files.controller';
import { ClientKeysController } from './client-keys.controller';
import { ConfigController } from './config.controller';
import { UsageController } from './usage.controller';
import { ConsoleController } from './console.controller';
import { OAuthBrowserCallbackController, OAuthLoginController } from './oauth-login.controller';
import { RequestErrorLogsController } from './request-error-logs.controller';

export const ADMIN_ENV = Symbol('ADMIN_ENV');

/**
 * Imports CONFIG_FILE (or ./config.yaml), then the token files of the auth directory
 * (AUTH_DIR, else the config's auth-dir), before the server starts listening.
 */
@Injectable()
class StartupImport implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuthDirImport');

  constructor(
    @Inject(ADMIN_ENV) private readonly env: Env,
    private readonly importer: ConfigImportService,
    private readonly authFiles: AuthFilesService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const summary = this.env.configFile ? await this.importer.importFile(this.env.configFile) : undefined;
    const authDir = resolveAuthDir(this.env.authDir, summary?.authDir);
    if (authDir) await this.importAuthDir(authDir);
  }

  /** A missing directory or a bad file is reported, never fatal: the other credentials still serve. */
  private async importAuthDir(dir: string): Promise<void> {
    let results;
    try {
      results = await this.authFiles.importPath(dir, 'auth-dir-import');
    } catch (err) {
      this.logger.warn(
        `auth-dir ${dir} not imported: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
      return;
    }
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    this.logger.log(
      `imported ${dir}: ${count('created')} new, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('error')} refused`,
    );
    for (const r of results) if (r.outcome === 'error') this.logger.warn(`${dir}: ${r.name}: ${r.error}`);
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
        ManagementModule.forRoot({
          redisUrl: env.redisUrl,
          keyPrefix: env.transportKeyPrefix,
          trustedProxies: env.trustedProxies,
        }),
      ],
      controllers: [
        HealthController,
        ConfigController,
        AuthFilesController,
        OAuthLoginController,
        OAuthBrowserCallbackController,
        ConsoleController,
        ClientKeysController,
        RequestErrorLogsController,
        UsageController,
      ],
      providers: [
        { provide: ADMIN_ENV, useValue: env },
        StartupImport,
        // Usage the schedulers buffer in Redis, and credential states, written to Postgres here.
        ...postgresWriterProviders({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
      ],
    };
  }
}
