import { DynamicModule, Global, Logger, Module, Provider } from '@nestjs/common';
import { SecretBox } from './crypto/secret-box';
import { DATABASE_URL, databaseUrlFromEnv, PrismaService } from './prisma.service';
import { AuditRepository } from './repositories/audit.repository';
import { CatalogSourceRepository } from './repositories/catalog-source.repository';
import { ClientKeyRepository } from './repositories/client-key.repository';
import { CredentialRepository } from './repositories/credential.repository';
import { OAuthSessionRepository } from './repositories/oauth-session.repository';
import { ProviderConfigRepository } from './repositories/provider-config.repository';
import { SettingsRepository } from './repositories/settings.repository';
import { UsageRepository } from './repositories/usage.repository';
import { UsageRequestRepository } from './repositories/usage-request.repository';
import { UnitOfWork } from './unit-of-work';

export interface DbModuleOptions {
  /** Default: env DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/cliproxy. */
  databaseUrl?: string;
  /** Default: SecretBox.fromEnv() (CPA_SECRET_KEY). */
  secretBox?: SecretBox;
}

const REPOSITORIES = [
  CredentialRepository,
  ClientKeyRepository,
  SettingsRepository,
  ProviderConfigRepository,
  UsageRepository,
  UsageRequestRepository,
  AuditRepository,
  CatalogSourceRepository,
  OAuthSessionRepository,
  UnitOfWork,
];

function providers(options: DbModuleOptions): Provider[] {
  return [
    { provide: DATABASE_URL, useFactory: () => options.databaseUrl ?? databaseUrlFromEnv() },
    {
      provide: SecretBox,
      useFactory: () => {
        const box = options.secretBox ?? SecretBox.fromEnv();
        if (box.source === 'dev-file') {
          new Logger('DbModule').warn(
            'CPA_SECRET_KEY is not set: using the generated development key (.data/dev-secret.key)',
          );
        }
        return box;
      },
    },
    PrismaService,
    ...REPOSITORIES,
  ];
}

const EXPORTS = [DATABASE_URL, SecretBox, PrismaService, ...REPOSITORIES];

/**
 * Postgres access for every service: PrismaService, SecretBox and the repositories,
 * available everywhere once imported (global). Import `DbModule` for the environment's
 * settings, or `DbModule.forRoot({...})` to override them (tests).
 */
@Global()
@Module({ providers: providers({}), exports: EXPORTS })
export class DbModule {
  static forRoot(options: DbModuleOptions = {}): DynamicModule {
    return { module: DbModule, global: true, providers: providers(options), exports: EXPORTS };
  }
}
