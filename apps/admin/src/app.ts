import { RequestMethod, type INestApplication, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Env } from '@cpa/config';
import type { SecretBox } from '@cpa/db';
import { ManagementErrorFilter, MULTIPART_CONTENT_TYPE, YAML_CONTENT_TYPES } from '@cpa/management';
import type { FastifyInstance } from 'fastify';
import { AdminModule } from './app.module';
import { serveConsole } from './console-assets';
import { BROWSER_CALLBACK_PATH } from './oauth-login.controller';

export const MANAGEMENT_PREFIX = 'v0/management';

/**
 * Routes under /v0/management (except /healthz), CLIProxyAPI's `{"error"}` bodies, and
 * YAML bodies read as text (PUT /config.yaml; Fastify already reads text/plain as text).
 */
export function configureAdminApp(app: INestApplication): void {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  fastify.addContentTypeParser([...YAML_CONTENT_TYPES], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  // A body-less call labelled JSON (a DELETE from CLIProxyAPI's panel or a script) has no
  // body, not a broken one: Fastify's own parser would refuse it with 400.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body === '' ? done(null, undefined) : parseJson(request, body as string, done),
  );
  // Token-file uploads (POST /auth-files): multipart parts are read by the handler, raw files as bytes.
  fastify.addContentTypeParser(
    [MULTIPART_CONTENT_TYPE, 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  // Management answers carry configuration and keys: no cache, shared or private, may keep them.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  app.setGlobalPrefix(MANAGEMENT_PREFIX, {
    exclude: [
      { path: 'healthz', method: RequestMethod.ALL },
      // OAuth browser callbacks keep CLIProxyAPI's paths (`/anthropic/callback`, ...).
      { path: BROWSER_CALLBACK_PATH, method: RequestMethod.GET },
    ],
  });
  app.useGlobalFilters(new ManagementErrorFilter());
  serveConsole(fastify);
}

export interface CreateAdminAppOptions {
  secretBox?: SecretBox;
  logger?: LoggerService | LogLevel[] | false;
}

/** Builds (does not start) the admin application without the transport server; tests drive it with `inject`. */
export async function createAdminApp(env: Env, options: CreateAdminAppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: env.bodyLimitBytes, forceCloseConnections: 'idle' });
  const app = await NestFactory.create<NestFastifyApplication>(
    AdminModule.forRoot({ env, secretBox: options.secretBox }),
    adapter,
    {
      logger: options.logger,
      // As in bootstrapService: Fastify's parsers, adjusted by configureAdminApp, not Nest's.
      bodyParser: false,
    },
  );
  configureAdminApp(app);
  app.enableShutdownHooks();
  await app.init();
  return app;
}
