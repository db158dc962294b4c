import type { ProviderFamily } from '@cpa/contracts';
import { DEFAULT_ROUTING_STRATEGY, type RoutingStrategy } from '@cpa/routing';
import type { CredentialRecord } from '@cpa/db';

export interface ModelMapping {
  /** Model name sent upstream. */
  name: string;
  /** Name clients ask for (defaults to `name`). */
  alias: string;
}

/**
 * A credential as routing sees it: its stored columns (never the secret) and settings.
 * `disabled` means not routable: switched off, its openai-compatibility entry switched off,
 * or waiting for a new login (status `needs_login`).
 */
export interface CredentialInfo extends Pick<
  CredentialRecord,
  'id' | 'kind' | 'label' | 'prefix' | 'priority' | 'weight' | 'disabled' | 'baseUrl' | 'proxyUrl' | 'version'
> {
  provider: ProviderFamily;
  headers: Record<string, string>;
  /** Explicit model list; empty means the family's default models. */
  models: ModelMapping[];
  excludedModels: string[];
  disableCooling?: boolean;
  requestRetry?: number;
  /** openai-compatibility entry name, for openai-compat credentials. */
  providerName?: string;
}

export interface RoutingSettings {
  strategy: RoutingStrategy;
  sessionAffinity: boolean;
  sessionAffinityTtlMs: number;
  requestRetry: number;
  maxRetryIntervalMs: number;
  maxRetryCredentials: number;
  forceModelPrefix: boolean;
  disableCooling: boolean;
  /** Cooldown after 408/5xx; 0 means the 60 s default, negative disables. */
  transientCooldownMs: number;
}

export const DEFAULT_ROUTING_SETTINGS: RoutingSettings = {
  strategy: DEFAULT_ROUTING_STRATEGY,
  sessionAffinity: false,
  sessionAffinityTtlMs: 60 * 60 * 1000,
  requestRetry: 3,
  maxRetryIntervalMs: 30_000,
  maxRetryCredentials: 0,
  forceModelPrefix: false,
  disableCooling: false,
  transientCooldownMs: 60_000,
};

/** One model a credential serves: the id clients use and the upstream name. */
export interface ServedModel {
  id: string;
  upstreamModel: string;
  credentialId: string;
  provider: ProviderFamily;
}
