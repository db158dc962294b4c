import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayService, queryOf, readGeminiCall, writeJson, type ProxyCall } from '@cpa/client-api';
import { clientErrorBody, RouteActions } from '@cpa/contracts';

type CallOf = (request: FastifyRequest, query: URLSearchParams) => Omit<ProxyCall, 'req' | 'res' | 'query'> | undefined;

const ROUTES: Record<string, CallOf> = {
  '/v1/chat/completions': () => ({ format: 'openai-chat' }),
  '/v1/completions': () => ({ format: 'openai-completions' }),
  '/v1/responses': () => ({ format: 'openai-responses' }),
  '/v1/messages': () => ({ format: 'claude' }),
  '/v1/messages/count_tokens': () => ({ format: 'claude', action: RouteActions.countTokens }),
  '/v1beta/models/:modelAction': (request, query) => {
    const call = readGeminiCall((request.params as { modelAction: string }).modelAction, query);
    return call && { format: 'gemini', ...call };
  },
};

const logger = new Logger('ProxyRoutes');

/**
 * The client API's POST routes (OpenAI, Anthropic, Gemini), all relayed through the
 * scheduler. They are plain Fastify routes rather than Nest handlers, and they are
 * answered from `preParsing`: GatewayService reads the raw body itself, which skips Nest's
 * router and Fastify's content-type parser (per request the latter allocates an
 * AsyncResource and binds a callback through a deprecated path, about a tenth of the
 * gateway's CPU in profiles). The model listings stay Nest controllers.
 */
export function registerProxyRoutes(fastify: FastifyInstance, gateway: GatewayService): void {
  for (const [url, callOf] of Object.entries(ROUTES)) {
    fastify.post(url, {
      preParsing: (request, reply, _payload, done) => {
        reply.hijack();
        void serve(gateway, request, reply, callOf, url);
        done();
      },
      // Never reached: preParsing has already hijacked the reply.
      handler: () => undefined,
    });
  }
}

async function serve(
  gateway: GatewayService,
  request: FastifyRequest,
  reply: FastifyReply,
  callOf: CallOf,
  route: string,
): Promise<void> {
  const started = performance.now();
  const query = queryOf(request.url);
  const call = callOf(request, query);
  if (!call) {
    const modelAction = (request.params as { modelAction?: string }).modelAction;
    writeJson(reply.raw, 404, clientErrorBody('gemini', 404, `Unknown action in "${modelAction}"`));
    return gateway.observe({ route, format: 'gemini' }, 404, started);
  }
  const proxied: ProxyCall = { ...call, route, req: request.raw, res: reply.raw, query };
  try {
    await gateway.proxy(proxied);
  } catch (err) {
    // A bug, not a client error: log it and say nothing inside.
    logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    writeJson(reply.raw, 500, clientErrorBody(call.format, 500, 'Internal error'));
  }
  gateway.observe(proxied, reply.raw.statusCode, started);
}
