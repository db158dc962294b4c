import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/** The scope Vertex AI access tokens are asked for. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Lifetime asked for in the assertion; Google allows at most one hour. */
const ASSERTION_LIFETIME_S = 3600;

/** The fields of a Google service-account key file the JWT grant needs. */
export const ServiceAccountSchema = z.looseObject({
  type: z.string().optional(),
  project_id: z.string().optional(),
  private_key_id: z.string().optional(),
  private_key: z.string().min(1),
  client_email: z.string().min(1),
  token_uri: z.string().optional(),
});
export type ServiceAccount = z.infer<typeof ServiceAccountSchema>;

/** A service account that cannot sign a grant. The message never quotes key material. */
export class InvalidServiceAccountError extends Error {
  override readonly name = 'InvalidServiceAccountError';
}

/** The credential's service account (secret field `serviceAccount`, the key file's parsed JSON). */
export function serviceAccountOf(secret: Record<string, unknown>): ServiceAccount {
  const parsed = ServiceAccountSchema.safeParse(secret.serviceAccount);
  if (!parsed.success)
    throw new InvalidServiceAccountError('secret has no service account with client_email and private_key');
  return parsed.data;
}

export function serviceAccountTokenUri(account: ServiceAccount): string {
  return account.token_uri?.trim() || GOOGLE_TOKEN_URL;
}

function privateKeyOf(account: ServiceAccount): KeyObject {
  // Key files pasted through some tools carry the PEM's newlines as literal "\n".
  const pem = account.private_key.includes('\\n') ? account.private_key.replace(/\\n/g, '\n') : account.private_key;
  try {
    return createPrivateKey(pem);
  } catch {
    throw new InvalidServiceAccountError('service account private_key is not a PEM private key');
  }
}

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The RS256-signed JWT a service account exchanges for an access token (RFC 7523, Google's
 * "OAuth 2.0 for server to server applications"): issuer the account, audience its token URI.
 */
export function signServiceAccountAssertion(account: ServiceAccount, now: Date, scope = CLOUD_PLATFORM_SCOPE): string {
  const key = privateKeyOf(account);
  const iat = Math.floor(now.getTime() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) };
  const claims = {
    iss: account.client_email,
    scope,
    aud: serviceAccountTokenUri(account),
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
  };
  const signingInput = `${segment(header)}.${segment(claims)}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(key).toString('base64url');
  return `${signingInput}.${signature}`;
}
