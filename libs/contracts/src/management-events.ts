import { Events } from './patterns';

/**
 * Broadcasts published by the admin service. `Events.configChanged` carries
 * ConfigChangedEvent; subscribers reload what they cache from Postgres.
 */
export const ManagementEvents = {
  configChanged: Events.configChanged,
  credentialChanged: Events.credentialChanged,
  /** An operator cleared a credential's cooldowns (POST /v0/management/reset-quota). */
  credentialQuotaReset: 'credential.quota-reset',
} as const;

export interface ConfigChangedEvent {
  /** What changed, e.g. `claude-api-key`, `routing.strategy`, `import`. */
  sections: string[];
  /** Credentials created, changed or removed by this change, when known. */
  credentialIds?: string[];
  at: number;
}

export interface CredentialQuotaResetEvent {
  credentialId: string;
  /** Base models whose state was cleared in the Postgres mirror; the scheduler clears all of the credential's state. */
  models: string[];
  at: number;
}
