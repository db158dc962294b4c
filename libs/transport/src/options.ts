import { z } from 'zod';
import { DEFAULT_KEY_PREFIX, keyPrefixFor } from '@cpa/contracts';

export { DEFAULT_KEY_PREFIX };
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Items a queue holds before new requests are refused (`TRANSPORT_QUEUE_LIMIT`). */
export const DEFAULT_QUEUE_LIMIT = 10_000;
/**
 * Request bodies of at least this many bytes travel by reference (`TRANSPORT_BODY_REF_BYTES`):
 * below it, the extra key and the read of it cost more than carrying the bytes along.
 */
export const DEFAULT_BODY_REF_MIN_BYTES = 16 * 1024;
/** How long a stopping server waits for in-flight handlers (`drainTimeoutMs`); deployments' grace periods exceed it. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export interface RedisTransportClientOptions {
  redisUrl: string;
  /** Prefix of every Redis key and channel (default `cpa:`; `{cpa}:` on a cluster, where it must carry a hash tag). */
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
  /**
   * A request is refused at once (`TransportError('overloaded')`, status 503) when its
   * queue already holds this many items (default 10,000; 0 = no bound).
   */
  queueLimit?: number;
  /**
   * A request body of at least this many bytes is stored once in Redis (`<prefix>body:<id>`,
   * until the reply ends or the deadline passes) and the request carries a reference to it:
   * servers that do not read bodies (`readsBodies: false`) never receive the bytes, and
   * forwards hand on the reference instead of the body (default 16 KiB; 0 = always inline).
   */
  bodyRefMinBytes?: number;
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
  /** Bound of the queues this server forwards to (default 10,000; 0 = none); see the client's. */
  queueLimit?: number;
  /**
   * TTL of this consumer's liveness key, refreshed every second or faster: this long after
   * the process died, live consumers reclaim the items it had taken but not started
   * (default 3 s). Keep it below the callers' idle timeout.
   */
  consumerTtlMs?: number;
  /** Told as a handler takes a queued message, with how long it waited in its queue (metrics). */
  onDequeue?: (pattern: string, waitMs: number) => void;
  /**
   * Whether handlers read request bodies (default true). A server that only routes (the
   * scheduler) sets false: a body sent by reference is then not fetched (`ctx.getBody()` is
   * undefined for it) and its reference travels along with forwards. Bodies sent inline
   * are delivered either way.
   */
  readsBodies?: boolean;
}

const envSchema = z.object({
  REDIS_URL: z.string().url().default(DEFAULT_REDIS_URL),
  TRANSPORT_KEY_PREFIX: z.string().optional(),
  TRANSPORT_QUEUE_LIMIT: z.coerce.number().int().min(0).default(DEFAULT_QUEUE_LIMIT),
  TRANSPORT_BODY_REF_BYTES: z.coerce.number().int().min(0).default(DEFAULT_BODY_REF_MIN_BYTES),
});

/** Settings shared by client and server, from `REDIS_URL`, `TRANSPORT_KEY_PREFIX`, `TRANSPORT_QUEUE_LIMIT` and `TRANSPORT_BODY_REF_BYTES`. */
export function transportEnv(env: NodeJS.ProcessEnv = process.env): {
  redisUrl: string;
  keyPrefix: string;
  queueLimit: number;
  bodyRefMinBytes: number;
} {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid transport environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return {
    redisUrl: parsed.data.REDIS_URL,
    keyPrefix: keyPrefixFor(parsed.data.REDIS_URL, parsed.data.TRANSPORT_KEY_PREFIX),
    queueLimit: parsed.data.TRANSPORT_QUEUE_LIMIT,
    bodyRefMinBytes: parsed.data.TRANSPORT_BODY_REF_BYTES,
  };
}
