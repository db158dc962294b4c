/**
 * Values of a credential's `status` column that mean something beyond bookkeeping.
 * `needs_login`: its OAuth refresh token was refused (revoked, expired, already spent), so
 * it is kept out of routing and the refresh worker leaves it alone until a new secret is
 * written (a re-import or a new login), which sets it back to `active`.
 */
export const CredentialStatuses = {
  active: 'active',
  needsLogin: 'needs_login',
} as const;
