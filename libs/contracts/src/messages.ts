import type { ProviderFamily } from './provider-family';

/**
 * The one registry of messages between the services. Two objects, because the transport
 * treats them differently:
 *
 * - `Patterns`: request patterns, consumed from a queue by exactly one replica (request/reply,
 *   forwarded or one-way). A pattern's queue is the part before its last dot:
 *   `scheduler.dispatch` is consumed from queue `scheduler`, `executor.claude.execute` from
 *   queue `executor.claude`.
 * - `Events`: broadcasts; every replica of every service that subscribes receives them.
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
  /**
   * executor -> refresh-worker (request/reply, RefreshCredentialRequest -> RefreshCredentialReply):
   * an upstream refused an access token (401); refresh that credential now, then the
   * executor retries the same credential once.
   */
  refresh: 'refresh-worker.refresh',
} as const;

export const Events = {
  /** admin: configuration changed (ConfigChangedEvent); subscribers reload what they cache. */
  configChanged: 'config.changed',
  /** admin or refresh-worker: credentials were created, changed or removed (`{ credentialIds, at }`). */
  credentialChanged: 'credential.changed',
  /** refresh-worker: a credential's tokens were rotated (`{ id }`); executors drop what they cached for it. */
  credentialRotated: 'credential.rotated',
  /** admin: an operator cleared a credential's cooldowns (POST /v0/management/reset-quota; CredentialQuotaResetEvent). */
  credentialQuotaReset: 'credential.quota-reset',
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

/** Payload of `Events.configChanged`. */
export interface ConfigChangedEvent {
  /** What changed, e.g. `claude-api-key`, `routing.strategy`, `import`. */
  sections: string[];
  /** Credentials created, changed or removed by this change, when known. */
  credentialIds?: string[];
  at: number;
}

/** Payload of `Events.credentialQuotaReset`. */
export interface CredentialQuotaResetEvent {
  credentialId: string;
  /** Base models whose state was cleared in the Postgres mirror; the scheduler clears all of the credential's state. */
  models: string[];
  at: number;
}

/** Request of `Patterns.refresh`. */
export interface RefreshCredentialRequest {
  credentialId: string;
  /**
   * Fingerprint (`tokenFingerprint`) of the access token the upstream refused. When the
   * stored token already differs, someone rotated it meanwhile and no refresh is needed.
   */
  rejectedToken: string;
}

/** Reply of `Patterns.refresh`. */
export interface RefreshCredentialReply {
  /** Newer tokens are stored: reload the secret and retry. */
  ok: boolean;
  /** Credential version holding the newer tokens (when ok). */
  version?: number;
  /** Why nothing newer is available (when not ok), without secrets. */
  reason?: string;
}
