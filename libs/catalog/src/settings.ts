import { parseDurationSeconds } from '@cpa/config';
import { parseRoutingStrategy } from '@cpa/routing';
import { DEFAULT_ROUTING_SETTINGS, type RoutingSettings } from './catalog.types';

/** A duration setting (Go-style text or seconds) in milliseconds. */
export function durationToMs(value: unknown, fallbackMs: number): number {
  if (typeof value !== 'string' && typeof value !== 'number') return fallbackMs;
  const seconds = parseDurationSeconds(value);
  return seconds === undefined ? fallbackMs : seconds * 1000;
}

const int = (value: unknown, fallback: number) => {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? Math.trunc(n) : fallback;
};
const bool = (value: unknown, fallback: boolean) =>
  typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : fallback;

/** Routing settings from the `settings` table (keys as in CLIProxyAPI's config.yaml). */
export function routingSettingsFrom(rows: Record<string, unknown>): RoutingSettings {
  const d = DEFAULT_ROUTING_SETTINGS;
  const transientSeconds = int(rows['transient-error-cooldown-seconds'], 0);
  return {
    // Rows are validated when written; a row that is not a strategy (hand-edited) reads as the default.
    strategy: parseRoutingStrategy(rows['routing.strategy']) ?? d.strategy,
    sessionAffinity: bool(rows['routing.session-affinity'], d.sessionAffinity),
    sessionAffinityTtlMs: durationToMs(rows['routing.session-affinity-ttl'], d.sessionAffinityTtlMs),
    requestRetry: Math.max(0, int(rows['request-retry'], d.requestRetry)),
    maxRetryIntervalMs: durationToMs(rows['max-retry-interval'], d.maxRetryIntervalMs),
    maxRetryCredentials: Math.max(0, int(rows['max-retry-credentials'], d.maxRetryCredentials)),
    forceModelPrefix: bool(rows['force-model-prefix'], d.forceModelPrefix),
    disableCooling: bool(rows['disable-cooling'], d.disableCooling),
    transientCooldownMs:
      transientSeconds === 0 ? d.transientCooldownMs : transientSeconds < 0 ? -1 : transientSeconds * 1000,
  };
}
