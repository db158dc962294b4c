import 'reflect-metadata';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { RedisTransportServer, transportEnv } from '@cpa/transport';
import { loadEnv } from '@cpa/config';
import { installProcessGuards } from './process-guards';
import { startOffHeapCollector } from './off-heap-collector';
import { installMetricsEndpoint, metricsToken, observeQueueWait } from './metrics-endpoint';
import { createServiceLogger, fastifyRequestId, logRequests, nestLoggerOf } from './logging';

export interface ServiceOptions {
  /** Name printed in logs and in the ready line. */
  name: string;
  /** HTTP port (0 = pick any free port; undefined = no HTTP listener). */
  port?: number;
  host?: string;
  /** Queues this process consumes; every service also receives broadcast events. */
  queues: string[];
  /** False for a service whose handlers never read request bodies (the scheduler): large bodies then bypass it. */
  readsBodies?: boolean;
  bodyLimitBytes?: number;
  /** Called after Nest creates the app and before it listens (routes, parsers). */
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
}

const REQUEST_RECEIVE_TIMEOUT_MS = 60_000;
const HEADERS_TIMEOUT_MS = 15_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * Starts one service: a Fastify HTTP listener (client API, admin API or just /healthz),
 * the Redis transport server for its queues and broadcast events, and shutdown hooks
 * that stop taking work and drain what is in flight on SIGTERM/SIGINT.
 */
export async function bootstrapService(module: unknown, options: ServiceOptions): Promise<INestApplication> {
  installProcessGuards(options.name);
  // Runs where tools/node-flags.conf gives --expose-gc (the services that hold large bodies).
  startOffHeapCollector();
  const env = loadEnv();
  const adapter = new FastifyAdapter({
    bodyLimit: options.bodyLimitBytes ?? env.bodyLimitBytes,
    logger: false,
    forceCloseConnections: 'idle',
    // A client gets this long to send a whole request (headers and body): slow senders cannot hold sockets forever.
    requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    genReqId: fastifyRequestId,
    // No Nest middleware anywhere (request logging is a Fastify hook): without middie a request
    // skips its hook and Nest's middleware plumbing. A Nest middleware added later fails at start.
    skipMiddie: true,
  });
  // JSON lines through pino (libs/runtime/src/logging.ts); Nest's own Logger calls land there too.
  const logger = createServiceLogger(options.name);
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(nestLoggerOf(logger));
  logRequests(app.getHttpAdapter().getInstance(), logger);
  app.enableShutdownHooks();
  const server = new RedisTransportServer({
    redisUrl: env.redisUrl,
    keyPrefix: env.transportKeyPrefix,
    queues: options.queues,
    heartbeatMs: env.heartbeatMs,
    queueLimit: transportEnv().queueLimit,
    readsBodies: options.readsBodies,
    onDequeue: observeQueueWait,
  });
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  app.getHttpServer().headersTimeout = HEADERS_TIMEOUT_MS;
  closeKeepAliveWhenDrained(app);
  // GET /metrics beside /healthz on every service (libs/runtime/src/metrics-endpoint.ts).
  installMetricsEndpoint(app, {
    service: options.name,
    server,
    queues: options.queues,
    keyPrefix: env.transportKeyPrefix,
    token: metricsToken(),
  });
  await options.configure?.(app);
  await app.startAllMicroservices();
  const port = options.port ?? env.healthPort;
  await app.listen(port, options.host ?? '0.0.0.0');
  const address = app.getHttpServer().address();
  const bound = typeof address === 'object' && address ? address.port : port;
  // One line a supervisor can wait for; keep its shape stable (tools/stack.mjs reads it).
  new Logger(options.name).log(`${options.name} ready on port ${bound}`);
  process.stdout.write(`READY ${options.name} port=${bound}\n`);
  return app;
}

/**
 * While the server drains, a keep-alive connection whose last response just finished
 * would hold shutdown open until its keep-alive timeout; close such connections as soon
 * as they go idle.
 */
function closeKeepAliveWhenDrained(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('preClose', (done) => {
    const server = fastify.server;
    const timer = setInterval(() => server.closeIdleConnections(), 50);
    timer.unref();
    server.once('close', () => clearInterval(timer));
    done();
  });
}
