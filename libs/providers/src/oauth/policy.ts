import { CredentialStatuses, type ProviderFamily } from '@cpa/contracts';
import { secretExpiry, secretLastRefresh } from './secret';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** How often the worker looks for credentials due for a refresh. */
export const REFRESH_SCAN_INTERVAL_MS = 30_000;
/** Most token refreshes in flight per worker process (the Go original's semaphore). */
export const REFRESH_CONCURRENCY = 16;
/** A refresh that was claimed is not started again for this long (the Go original's pending backoff). */
export const REFRESH_PENDING_BACKOFF_MS = MINUTE;
/** After a failed refresh, the next attempt waits this long. */
export const REFRESH_FAILURE_BACKOFF_MS = 5 * MINUTE;

/** The provider families whose OAuth tokens this service refreshes. */
export type OAuthFamily = Extract<
  ProviderFamily,
  'claude' | 'codex' | 'gemini-cli' | 'antigravity' | 'vertex' | 'kimi' | 'iflow'
>;

/**
 * How long before expiry a token is refreshed. Claude and Codex follow CLIProxyAPI
 * (4 h and 5 days). CLIProxyAPI refreshes Google tokens lazily inside the executor, shortly
 * before expiry. Here executors only read Postgres, so Google's one-hour tokens are
 * refreshed ahead: 15 min leaves room for two more attempts after a failure (5 min
 * backoff) before the token runs out. A Vertex token comes from a JWT grant that needs
 * nothing but the service account, so a shorter lead (one retry) is enough. Kimi (5 min) and
 * iFlow (24 h) follow CLIProxyAPI's KimiAuthenticator / IFlowAuthenticator.RefreshLead.
 */
export const REFRESH_LEAD_MS: Readonly<Record<OAuthFamily, number>> = {
  claude: 4 * HOUR,
  codex: 5 * 24 * HOUR,
  'gemini-cli': 15 * MINUTE,
  antigravity: 15 * MINUTE,
  vertex: 10 * MINUTE,
  kimi: 5 * MINUTE,
  iflow: 24 * HOUR,
};

/** Names a credential's provider may carry for each OAuth family. */
const FAMILY_ALIASES: Readonly<Record<string, OAuthFamily>> = {
  claude: 'claude',
  anthropic: 'claude',
  codex: 'codex',
  'gemini-cli': 'gemini-cli',
  antigravity: 'antigravity',
  vertex: 'vertex',
  kimi: 'kimi',
  iflow: 'iflow',
};

export function oauthFamilyOf(provider: string): OAuthFamily | undefined {
  return FAMILY_ALIASES[provider.trim().toLowerCase()];
}

/** The fields of a credential the refresh decision reads (a CredentialRecord fits, with or without its secret). */
export interface RefreshCandidate {
  provider: string;
  kind: string;
  disabled: boolean;
  /** `needs_login` stops refreshes until a new secret is written. */
  status?: string;
  expiresAt: Date | null;
  lastRefreshAt: Date | null;
  nextRefreshAt: Date | null;
  attributes?: Record<string, unknown>;
  /** The decrypted secret, when loaded: a fallback for expiry and last refresh. */
  secret?: Record<string, unknown>;
}

/** The token's expiry: the credential's column first, then the secret's own field. */
export function credentialExpiry(credential: Pick<RefreshCandidate, 'expiresAt' | 'secret'>): Date | undefined {
  return credential.expiresAt ?? (credential.secret ? secretExpiry(credential.secret) : undefined);
}

/**
 * Whether a credential's OAuth token should be refreshed now (pure; the Go original's
 * shouldRefresh). A per-credential `refreshIntervalSeconds` attribute overrides the family
 * lead; without an expiry, the last refresh plus the lead decides, and a token that was
 * never refreshed and has no expiry is refreshed straight away.
 */
export function shouldRefresh(credential: RefreshCandidate, now: Date): boolean {
  if (credential.kind !== 'oauth' || credential.disabled || credential.status === CredentialStatuses.needsLogin)
    return false;
  if (credential.nextRefreshAt && now.getTime() < credential.nextRefreshAt.getTime()) return false;
  const family = oauthFamilyOf(credential.provider);
  if (!family) return false;
  if (family === 'iflow' && credential.secret && !hasText(credential.secret.refreshToken)) {
    // An iFlow cookie login (api_key + cookie, no OAuth tokens) has nothing to refresh: its
    // key serves until it expires. Refreshing would only mark it as needing a new login.
    return false;
  }

  const expiry = credential.expiresAt ?? (credential.secret ? secretExpiry(credential.secret) : undefined);
  const lastRefresh =
    credential.lastRefreshAt ?? (credential.secret ? secretLastRefresh(credential.secret) : undefined);
  const remaining = expiry ? expiry.getTime() - now.getTime() : undefined;

  const interval = preferredIntervalMs(credential.attributes);
  if (interval) {
    if (remaining !== undefined && remaining <= interval) return true;
    return !lastRefresh || now.getTime() - lastRefresh.getTime() >= interval;
  }

  const lead = REFRESH_LEAD_MS[family];
  if (remaining !== undefined) return remaining <= lead;
  if (lastRefresh) return now.getTime() - lastRefresh.getTime() >= lead;
  return true;
}

const hasText = (value: unknown) => typeof value === 'string' && value.trim() !== '';

const INTERVAL_KEYS = ['refreshIntervalSeconds', 'refresh_interval_seconds', 'refreshInterval', 'refresh_interval'];

/** A positive refresh interval in seconds from the credential's attributes, in ms. */
function preferredIntervalMs(attributes: Record<string, unknown> | undefined): number | undefined {
  if (!attributes) return undefined;
  for (const key of INTERVAL_KEYS) {
    const raw = attributes[key];
    const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  }
  return undefined;
}
