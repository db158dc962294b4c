import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The decrypted `secret_enc` of an OAuth credential (camelCase JSON). Unknown fields are
 * kept untouched, so a refresh never drops what another writer stored.
 */
export const OAuthSecretSchema = z.looseObject({
  accessToken: z.string().optional(),
  refreshToken: z.string().optional(),
  idToken: z.string().optional(),
  tokenType: z.string().optional(),
  /** ISO 8601 (or epoch seconds/ms); mirrors the credential's expires_at column. */
  expiresAt: z.union([z.string(), z.number()]).optional(),
  lastRefreshAt: z.union([z.string(), z.number()]).optional(),
});
export type OAuthSecret = z.infer<typeof OAuthSecretSchema>;

/** The result of one refresh: new tokens plus the non-secret facts the token endpoint told us. */
export interface TokenSet {
  accessToken: string;
  /** The rotated refresh token, or the one sent when the endpoint did not rotate it; none for JWT grants (Vertex). */
  refreshToken?: string;
  expiresAt: Date | null;
  idToken?: string;
  tokenType?: string;
  /** Account identity (email, account or organization ids, plan) — never tokens, except iFlow's API key, which lives in the secret like them. */
  extra: Record<string, unknown>;
}

// Field names older token files use for the same facts (CLIProxyAPI's `expired`, Google's `expiry`).
const EXPIRY_FIELDS = ['expiresAt', 'expiry', 'expired'];
const LAST_REFRESH_FIELDS = ['lastRefreshAt', 'lastRefresh'];

export function secretExpiry(secret: Record<string, unknown>): Date | undefined {
  return firstTime(secret, EXPIRY_FIELDS);
}

export function secretLastRefresh(secret: Record<string, unknown>): Date | undefined {
  return firstTime(secret, LAST_REFRESH_FIELDS);
}

function firstTime(secret: Record<string, unknown>, fields: string[]): Date | undefined {
  for (const field of fields) {
    const time = parseTime(secret[field]);
    if (time) return time;
  }
  return undefined;
}

/** ISO/RFC 3339 strings, or epoch numbers (seconds below 1e11, milliseconds above). */
export function parseTime(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return new Date(value < 1e11 ? value * 1000 : value);
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    if (/^\d+(\.\d+)?$/.test(text)) return parseTime(Number(text));
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  return undefined;
}

/** The secret after a refresh: new tokens over the stored fields, identity facts added. */
export function applyTokenSet(secret: Record<string, unknown>, tokens: TokenSet, now: Date): OAuthSecret {
  const next: Record<string, unknown> = { ...secret, ...tokens.extra };
  next.accessToken = tokens.accessToken;
  if (tokens.refreshToken !== undefined) next.refreshToken = tokens.refreshToken;
  if (tokens.idToken !== undefined) next.idToken = tokens.idToken;
  if (tokens.tokenType !== undefined) next.tokenType = tokens.tokenType;
  if (tokens.expiresAt) next.expiresAt = tokens.expiresAt.toISOString();
  else delete next.expiresAt;
  // Legacy expiry names would otherwise shadow nothing but confuse readers of the secret.
  delete next.expiry;
  delete next.expired;
  next.lastRefreshAt = now.toISOString();
  return next as OAuthSecret;
}

/**
 * Names an access token without revealing it (16 hex digits of its SHA-256), so an executor
 * can tell the refresh-worker which token the upstream refused.
 */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}
