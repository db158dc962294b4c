import { z } from 'zod';

export const DEFAULT_KEY_PREFIX = 'cpa:';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisTransportClientOptions {
  redisUrl: string;
  /** Prefix of every Redis key and channel (default `cpa:`). */
  keyPrefix?: string;
  /** Identity of this pod's reply channel (default: random per client instance). */
  podId?: string;
  /** Deadline of a request when the caller gives none (default 120 s). */
  defaultDeadlineMs?: number;
  /**
   * Fail a request with a `lost` error when no frame or heartbeat arrived for this
   * long (default: off). Must exceed the longest expected queue wait plus the server's
   * heartbeat interval.
   */
  idleTimeoutMs?: number;
}

export interface RedisTransportServerOptions {
  redisUrl: string;
  keyPrefix?: string;
  /** Queues this process consumes (see `queueOf` in @cpa/contracts). */
  queues: string[];
  /** Most items taken per BLMPOP (default 64). */
  batchSize?: number;
  /** Most requests handled at once; popping pauses when reached (default 1024). */
  concurrency?: number;
  /** How long `close()` waits for in-flight handlers before aborting them (default 10 s). */
  drainTimeoutMs?: number;
  /** A reply that stayed silent this long gets a heartbeat frame (default 10 s; 0 = off). */
  heartbeatMs?: number;
}

const envSchema = z.object({
  REDIS_URL: z.string().url().default(DEFAULT_REDIS_URL),
  TRANSPORT_KEY_PREFIX: z.string().default(DEFAULT_KEY_PREFIX),
});

/** Connection settings shared by client and server, from `REDIS_URL` and `TRANSPORT_KEY_PREFIX`. */
export function transportEnv(env: NodeJS.ProcessEnv = process.env): { redisUrl: string; keyPrefix: string } {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid transport environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { redisUrl: parsed.data.REDIS_URL, keyPrefix: parsed.data.TRANSPORT_KEY_PREFIX };
}
