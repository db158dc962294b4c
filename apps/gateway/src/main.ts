import { ClientErrorFilter, GatewayService } from '@cpa/client-api';
import { loadEnv } from '@cpa/config';
import { bootstrapService } from '@cpa/runtime';
import type { FastifyInstance } from 'fastify';
import { GatewayModule } from './gateway.module';
import { registerProxyRoutes } from './proxy.routes';

function installBodyHandling(fastify: FastifyInstance) {
  // Bodies stay raw bytes (management pass-through); the proxy routes read theirs themselves.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

async function main() {
  const env = loadEnv();
  await bootstrapService(GatewayModule, {
    name: 'gateway',
    port: env.port,
    queues: [],
    bodyLimitBytes: env.bodyLimitBytes,
    configure: (app) => {
      app.useGlobalFilters(new ClientErrorFilter());
      const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
      installBodyHandling(fastify);
      registerProxyRoutes(fastify, app.get(GatewayService));
    },
  });
}

void main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
