import { DEFAULT_ROUTING_STRATEGY, parseRoutingStrategy, type RoutingStrategy } from '@cpa/routing';

/** Keys of the `settings` table. Values are JSON; durations are numbers of seconds. */
export const SettingKeys = {
  port: 'port',
  routingStrategy: 'routing.strategy',
  sessionAffinity: 'routing.session-affinity',
  sessionAffinityTtl: 'routing.session-affinity-ttl',
  requestRetry: 'request-retry',
  maxRetryInterval: 'max-retry-interval',
  maxRetryCredentials: 'max-retry-credentials',
  forceModelPrefix: 'force-model-prefix',
  disableCooling: 'disable-cooling',
  transientErrorCooldownSeconds: 'transient-error-cooldown-seconds',
  /** Global proxy for upstream calls and token refreshes (a credential's own proxy_url wins). */
  proxyUrl: 'proxy-url',
  allowRemoteManagement: 'remote-management.allow-remote',
  /** channel -> [{name, alias, fork}] (sanitizeOAuthModelAlias). */
  oauthModelAlias: 'oauth-model-alias',
  /** channel -> model patterns (normalizeOAuthExcludedModels). */
  oauthExcludedModels: 'oauth-excluded-models',
  /** Days per-request usage rows are kept (hourly and daily roll-ups are kept for good). */
  usageRetentionDays: 'usage-retention-days',
  /** scrypt hash of the management secret (see hashManagementSecret); never the secret. */
  managementSecretHash: 'remote-management.secret-hash',
} as const;
export type SettingKey = (typeof SettingKeys)[keyof typeof SettingKeys];

/** Runtime settings with CLIProxyAPI's defaults applied. */
export interface RuntimeSettings {
  routingStrategy: RoutingStrategy;
  sessionAffinity: boolean;
  sessionAffinityTtlSeconds: number;
  requestRetry: number;
  maxRetryIntervalSeconds: number;
  /** 0 = try every credential. */
  maxRetryCredentials: number;
  forceModelPrefix: boolean;
  disableCooling: boolean;
  /** 0 means the default of 60 s; -1 disables transient cooldowns. */
  transientErrorCooldownSeconds: number;
}

export const DEFAULT_SETTINGS: RuntimeSettings = {
  routingStrategy: DEFAULT_ROUTING_STRATEGY,
  sessionAffinity: false,
  sessionAffinityTtlSeconds: 3600,
  requestRetry: 3,
  maxRetryIntervalSeconds: 30,
  maxRetryCredentials: 0,
  forceModelPrefix: false,
  disableCooling: false,
  transientErrorCooldownSeconds: 0,
};

/** Reads rows of the settings table into typed settings; values of the wrong type fall back to defaults. */
export function readRuntimeSettings(rows: Iterable<{ key: string; value: unknown }>): RuntimeSettings {
  const map = new Map<string, unknown>();
  for (const row of rows) map.set(row.key, row.value);
  const num = (key: string, fallback: number) =>
    typeof map.get(key) === 'number' ? (map.get(key) as number) : fallback;
  const bool = (key: string, fallback: boolean) =>
    typeof map.get(key) === 'boolean' ? (map.get(key) as boolean) : fallback;
  const strategy = map.get(SettingKeys.routingStrategy);
  const d = DEFAULT_SETTINGS;
  return {
    routingStrategy: parseRoutingStrategy(strategy) ?? d.routingStrategy,
    sessionAffinity: bool(SettingKeys.sessionAffinity, d.sessionAffinity),
    sessionAffinityTtlSeconds: num(SettingKeys.sessionAffinityTtl, d.sessionAffinityTtlSeconds),
    requestRetry: num(SettingKeys.requestRetry, d.requestRetry),
    maxRetryIntervalSeconds: num(SettingKeys.maxRetryInterval, d.maxRetryIntervalSeconds),
    maxRetryCredentials: num(SettingKeys.maxRetryCredentials, d.maxRetryCredentials),
    forceModelPrefix: bool(SettingKeys.forceModelPrefix, d.forceModelPrefix),
    disableCooling: bool(SettingKeys.disableCooling, d.disableCooling),
    transientErrorCooldownSeconds: num(SettingKeys.transientErrorCooldownSeconds, d.transientErrorCooldownSeconds),
  };
}
