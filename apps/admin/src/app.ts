import { RequestMethod, type INestApplication, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Env } from '@cpa/config';
import type { SecretBox } from '@cpa/db';
import { ManagementErrorFilter } from '@cpa/management';
import { AdminModule } from './app.module';

export const MANAGEMENT_PREFIX = 'v0/management';

/** Routes under /v0/management (except /healthz) and CLIProxyAPI's `{"error"}` bodies. */
export function configureAdminApp(app: INestApplication): void {
  app.setGlobalPrefix(MANAGEMENT_PREFIX, { exclude: [{ path: 'healthz', method: RequestMethod.ALL }] });
  app.useGlobalFilters(new ManagementErrorFilter());
}

export interface CreateAdminAppOptions {
  secretBox?: SecretBox;
  logger?: LoggerService | LogLevel[] | false;
}

/** Builds (does not start) the admin application without the transport server; tests drive it with `inject`. */
export async function createAdminApp(env: Env, options: CreateAdminAppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: env.bodyLimitBytes, forceCloseConnections: 'idle' });
  const app = await NestFactory.create<NestFastifyApplication>(AdminModule.forRoot({ env, secretBox: options.secretBox }), adapter, {
    logger: options.logger,
  });
  configureAdminApp(app);
  app.enableShutdownHooks();
  await app.init();
  return app;
}
