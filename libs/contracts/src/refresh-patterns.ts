/**
 * On-demand OAuth refresh: an executor whose upstream refused an access token (401) asks
 * a refresh-worker for new tokens before retrying the same credential once.
 */
export const RefreshPatterns = {
  /** executor -> refresh-worker (request/reply): refresh one credential now. */
  refresh: 'refresh-worker.refresh',
} as const;

export interface RefreshCredentialRequest {
  credentialId: string;
  /**
   * Fingerprint (`tokenFingerprint`) of the access token the upstream refused. When the
   * stored token already differs, someone rotated it meanwhile and no refresh is needed.
   */
  rejectedToken: string;
}

export interface RefreshCredentialReply {
  /** Newer tokens are stored: reload the secret and retry. */
  ok: boolean;
  /** Credential version holding the newer tokens (when ok). */
  version?: number;
  /** Why nothing newer is available (when not ok), without secrets. */
  reason?: string;
}
