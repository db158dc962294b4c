import { ClientErrorFilter } from '@cpa/client-api';
import { loadEnv } from '@cpa/config';
import { bootstrapService } from '@cpa/runtime';
import type { FastifyInstance } from 'fastify';
import { GatewayModule } from './gateway.module';

function installBodyHandling(fastify: FastifyInstance) {
  // Bodies stay raw bytes: the gateway reads routing fields once and relays the original.
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
      installBodyHandling(app.getHttpAdapter().getInstance() as unknown as FastifyInstance);
    },
  });
}

void main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
