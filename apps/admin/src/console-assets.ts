import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the console is served; the gateway passes this path through to the admin. */
export const CONSOLE_PATH = '/admin';

/** `apps/console/dist` next to this app's build output, or CONSOLE_DIR. */
export function consoleDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONSOLE_DIR ? resolve(env.CONSOLE_DIR) : resolve(__dirname, '../../console/dist');
}

/**
 * Serves the console's built assets at /admin. Every other path under /admin is a page of
 * the single-page app and gets its index.html. The assets are public; every piece of data
 * the console shows comes from the management API and needs the management secret.
 */
export function serveConsole(fastify: FastifyInstance, root = consoleDir()): void {
  const built = existsSync(resolve(root, 'index.html'));
  if (built) {
    void fastify.register(fastifyStatic, {
      root,
      prefix: `${CONSOLE_PATH}/`,
      wildcard: false,
      index: false,
      decorateReply: true,
    });
  }
  const page = (_request: FastifyRequest, reply: FastifyReply) =>
    built
      ? reply.sendFile('index.html')
      : reply.status(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build`.\n');
  fastify.get(CONSOLE_PATH, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`));
  fastify.get(`${CONSOLE_PATH}/`, page);
  fastify.get(`${CONSOLE_PATH}/*`, page);
}
