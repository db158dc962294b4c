import {
  DEFAULT_SETTINGS,
  formatDurationSeconds,
  parseDurationSeconds,
  ProxyUrlSchema,
  redactProxyUrl,
  RoutingStrategySchema,
  SettingKeys,
  type SettingKey,
} from '@cpa/config';
import { z } from 'zod';

/**
 * The scalar endpoints: GET answers `{"<responseKey>": value}`, PUT/PATCH take
 * `{"value": ...}`. Values are stored in the settings table in canonical form (durations
 * as seconds) and shown the way CLIProxyAPI shows them.
 */
export interface ScalarSpec {
  /** Path under /v0/management. */
  path: string;
  responseKey: string;
  setting: SettingKey;
  input: z.ZodType<unknown>;
  fallback: unknown;
  show?: (stored: unknown) => unknown;
  /** The value as the audit log records it (a proxy URL may carry a password). */
  audited?: (value: unknown) => string | number | boolean;
}

const seconds = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = parseDurationSeconds(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 5m, 1h or a number of seconds' });
    return z.NEVER;
  }
  return parsed;
});
const count = z.number().int().min(0);

export const SCALARS: readonly ScalarSpec[] = [
  {
    path: 'request-retry',
    responseKey: 'request-retry',
    setting: SettingKeys.requestRetry,
    input: count,
    fallback: DEFAULT_SETTINGS.requestRetry,
  },
  {
    path: 'max-retry-credentials',
    responseKey: 'max-retry-credentials',
    setting: SettingKeys.maxRetryCredentials,
    input: count,
    fallback: DEFAULT_SETTINGS.maxRetryCredentials,
  },
  {
    path: 'max-retry-interval',
    responseKey: 'max-retry-interval',
    setting: SettingKeys.maxRetryInterval,
    input: seconds,
    fallback: DEFAULT_SETTINGS.maxRetryIntervalSeconds,
  },
  {
    path: 'force-model-prefix',
    responseKey: 'force-model-prefix',
    setting: SettingKeys.forceModelPrefix,
    input: z.boolean(),
    fallback: DEFAULT_SETTINGS.forceModelPrefix,
  },
  {
    path: 'routing/strategy',
    responseKey: 'strategy',
    setting: SettingKeys.routingStrategy,
    input: RoutingStrategySchema,
    fallback: DEFAULT_SETTINGS.routingStrategy,
  },
  {
    path: 'routing/session-affinity',
    responseKey: 'session-affinity',
    setting: SettingKeys.sessionAffinity,
    input: z.boolean(),
    fallback: DEFAULT_SETTINGS.sessionAffinity,
  },
  {
    path: 'routing/session-affinity-ttl',
    responseKey: 'session-affinity-ttl',
    setting: SettingKeys.sessionAffinityTtl,
    input: seconds.refine((s) => s > 0, 'must be positive'),
    fallback: DEFAULT_SETTINGS.sessionAffinityTtlSeconds,
    show: (stored) => formatDurationSeconds(stored as number),
  },
  // CLIProxyAPI's `proxy-url`: a string; "" (or DELETE) means no global proxy.
  {
    path: 'proxy-url',
    responseKey: 'proxy-url',
    setting: SettingKeys.proxyUrl,
    input: ProxyUrlSchema,
    fallback: '',
    audited: redactProxyUrl,
  },
];

export function scalarSpec(path: string): ScalarSpec | undefined {
  return SCALARS.find((spec) => spec.path === path);
}
