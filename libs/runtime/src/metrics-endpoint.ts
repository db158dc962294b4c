import { createHash, timingSafeEqual } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { transportKeys, type RedisConnection, type RedisTransportServer } from '@cpa/transport';
import { metrics, metricsRegistry } from './metrics';

const MetricsEnvSchema = z.object({
  // Optional bearer token for GET /metrics on every service (see metricsAccessAllowed).
  METRICS_TOKEN: z.string().min(1).optional(),
});

/** `METRICS_TOKEN` (an empty value counts as unset). */
export function metricsToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const parsed = MetricsEnvSchema.safeParse({ METRICS_TOKEN: env.METRICS_TOKEN || undefined });
  return parsed.success ? parsed.data.METRICS_TOKEN : undefined;
}

/**
 * Whether a scrape may read /metrics. Without a token configured, anyone who reaches the
 * port may: the series carry no secrets, credential ids or client keys (labels are bounded,
 * see metrics.ts), only traffic shape. With METRICS_TOKEN set, the request must carry
 * `Authorization: Bearer <token>`; deployments whose gateway port is public set it.
 */
export function metricsAccessAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
  if (!match) return false;
  // Digests have equal lengths, so the comparison time says nothing about the token.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

let defaultsCollected = false;

/**
 * How often Node's process metrics sample the event loop's delay (prom-client's default is
 * 10 ms). Each sample is a timer that wakes an idle process: at 10 ms every service woke
 * about 100 times a second doing nothing, and on a small (virtualised) machine each wake-up
 * costs more than the JavaScript it runs. 100 ms still catches any stall a scrape would show.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Node's process metrics (CPU, memory, handles, GC, event-loop delay) in the registry, once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

export interface MetricsEndpointOptions {
  /** Service name, the `service` label of every series (`executor-claude`, ...). */
  service: string;
  /** The transport server of the process: its queues' depths are read at scrape time. */
  server: RedisTransportServer;
  queues: readonly string[];
  /** The transport's resolved key prefix (Env.transportKeyPrefix). */
  keyPrefix: string;
  token?: string;
}

/**
 * GET /metrics on the service's HTTP listener (next to /healthz) in Prometheus' text format,
 * with Node's process metrics. Every app gets it the same way, from bootstrapService.
 */
export function installMetricsEndpoint(app: NestFastifyApplication, options: MetricsEndpointOptions): void {
  // Nest's adapter brings its own copy of Fastify's types; the instance is the same.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  metricsRegistry.setDefaultLabels({ service: options.service });
  collectProcessMetrics();
  fastify.get('/metrics', async (request, reply) => {
    if (!metricsAccessAllowed(request.headers.authorization, options.token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .header('content-type', 'text/plain; charset=utf-8')
        .send('metrics token required\n');
    }
    await readQueueDepths(options.server, options.queues, options.keyPrefix);
    return reply
      .header('content-type', metricsRegistry.contentType)
      .header('cache-control', 'no-store')
      .send(await metricsRegistry.metrics());
  });
}

/** Tells the transport server to report queue waits (RedisTransportServerOptions.onDequeue). */
export function observeQueueWait(pattern: string, waitMs: number): void {
  metrics.queueWait.observe({ pattern }, Math.max(0, waitMs) / 1000);
}

/** XLEN of each consumed queue, the measure TRANSPORT_QUEUE_LIMIT bounds; Redis unreachable leaves the last values. */
async function readQueueDepths(server: RedisTransportServer, queues: readonly string[], prefix: string): Promise<void> {
  const cmd = server.unwrap<{ cmd?: RedisConnection }>().cmd;
  if (!cmd || queues.length === 0) return;
  await Promise.all(
    queues.map(async (queue) => {
      try {
        metrics.queueDepth.set({ queue }, await cmd.xlen(transportKeys.queue(prefix, queue)));
      } catch {
        // A scrape must not fail with Redis: the gauge keeps its last reading.
      }
    }),
  );
}
