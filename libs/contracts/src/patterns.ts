import type { ProviderFamily } from './provider-family';

/**
 * Message patterns of the Redis transport. A pattern's queue is the part before its
 * last dot: `scheduler.dispatch` is consumed from queue `scheduler`, and
 * `executor.claude.execute` from queue `executor.claude`.
 */
export const Patterns = {
  /** gateway -> scheduler: route a client request (reply: response frames). */
  dispatch: 'scheduler.dispatch',
  /** executor -> scheduler (forwarded, reply obligation moves along): an attempt failed before its first byte. */
  attemptFailed: 'scheduler.attempt-failed',
  /**
   * executor -> scheduler (one-way): an attempt finished; updates credential/model state.
   * Its own queue (`scheduler.results`), so results never wait behind new requests.
   */
  attemptResult: 'scheduler.results.attempt-result',
  /** scheduler -> scheduler (a delayed forward): the next retry round, once the nearest cooldown has ended. */
  nextRound: 'scheduler.next-round',
  /** scheduler -> executor of a family (forwarded): perform one upstream attempt. */
  execute: (family: ProviderFamily) => `executor.${family}.execute`,
} as const;

/** Broadcast events: every replica of every service that subscribes receives them. */
export const Events = {
  configChanged: 'config.changed',
  credentialChanged: 'credential.changed',
  credentialRotated: 'credential.rotated',
} as const;
export type EventName = (typeof Events)[keyof typeof Events];

/** The queue a pattern is consumed from. */
export function queueOf(pattern: string): string {
  const dot = pattern.lastIndexOf('.');
  return dot < 0 ? pattern : pattern.slice(0, dot);
}

export function executorQueue(family: ProviderFamily): string {
  return queueOf(Patterns.execute(family));
}
