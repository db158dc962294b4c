import { queueOf } from '@cpa/contracts';

/**
 * Redis names used by the transport. Exported so that scripts elsewhere (e.g. the
 * scheduler's pick script pushing straight onto an executor queue) address the same keys.
 */
export const transportKeys = {
  /** List a queue's consumers pop from (LPUSH in, pop from the right: FIFO). */
  queue: (prefix: string, queue: string) => `${prefix}q:${queue}`,
  /** The list a request for `pattern` goes to. */
  queueOfPattern: (prefix: string, pattern: string) => `${prefix}q:${queueOf(pattern)}`,
  /** Pub/sub channel of one pod's replies. */
  reply: (prefix: string, podId: string) => `${prefix}reply:${podId}`,
  /** Pub/sub channel every server listens on for cancellations. */
  cancel: (prefix: string) => `${prefix}cancel`,
  /** Pub/sub channel of one broadcast event pattern. */
  event: (prefix: string, pattern: string) => `${prefix}ev:${pattern}`,
} as const;
