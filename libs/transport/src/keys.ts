import { queueOf } from '@cpa/contracts';

/**
 * Redis names used by the transport. Exported so that scripts elsewhere (e.g. the
 * scheduler's pick script pushing straight onto an executor queue) address the same keys.
 */
export const transportKeys = {
  /** Stream a queue's consumers read from through the consumer group `CONSUMER_GROUP` (XADD in, FIFO). */
  queue: (prefix: string, queue: string) => `${prefix}work:${queue}`,
  /** The stream a request for `pattern` goes to. */
  queueOfPattern: (prefix: string, pattern: string) => `${prefix}work:${queueOf(pattern)}`,
  /** Sorted set of a queue's delayed items (score = when due, Redis time in ms), moved to the queue when due. */
  delayed: (prefix: string, queue: string) => `${prefix}delayed:${queue}`,
  /** A request body stored by reference (large bodies): written once by the caller, read by the servers that need it. */
  body: (prefix: string, requestId: string) => `${prefix}body:${requestId}`,
  /** Counter of requests a queue refused because it was full. */
  refused: (prefix: string, queue: string) => `${prefix}refused:${queue}`,
  /** A consumer's liveness key (short TTL, refreshed while it runs): when it lapses, others reclaim its items. */
  consumer: (prefix: string, consumer: string) => `${prefix}consumer:${consumer}`,
  /** Pub/sub channel of one pod's replies. */
  reply: (prefix: string, podId: string) => `${prefix}reply:${podId}`,
  /** Pub/sub channel every server listens on for cancellations. */
  cancel: (prefix: string) => `${prefix}cancel`,
  /** Pub/sub channel every server listens on for pause/resume of a streamed reply (backpressure). */
  flow: (prefix: string) => `${prefix}flow`,
  /** Pub/sub channel of one broadcast event pattern. */
  event: (prefix: string, pattern: string) => `${prefix}ev:${pattern}`,
} as const;

/** The one consumer group of every queue stream: each item goes to one of its consumers. */
export const CONSUMER_GROUP = 'consumers';
