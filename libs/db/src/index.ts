// Public API of @cpa/db: Prisma client, repositories and secret encryption.
export * from './crypto/client-key';
export * from './crypto/secret-box';
export * from './db.module';
export * from './db-errors';
export * from './prisma.service';
export * from './repositories/audit.repository';
export * from './repositories/catalog-source.repository';
export * from './repositories/client-key.repository';
export * from './repositories/credential.repository';
export * from './repositories/oauth-session.repository';
export * from './repositories/provider-config.repository';
export * from './repositories/settings.repository';
export * from './repositories/usage.repository';
export * from './repositories/usage-request.repository';
export * from './unit-of-work';
export type { JsonObject } from './json';
export { Prisma, PrismaClient } from './generated/prisma/client';
export type {
  AuditLog,
  ClientApiKey,
  Credential,
  OAuthSession,
  ProviderConfig,
  Setting,
  UsageDaily,
  UsageHourly,
  UsageRequest,
} from './generated/prisma/client';
