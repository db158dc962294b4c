import { createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { startGoogleServer, type GoogleReply, type GoogleRequest } from './google-http';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** An access token the mock issued: who holds it and until when. */
export interface IssuedToken {
  /** The OAuth client id (refresh grants) or the service account's e-mail (JWT grants). */
  subject: string;
  expiresAt: number;
}

/** A Google service-account key file for tests, with the key pair the mock verifies against. */
export interface TestServiceAccount {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

export interface MockGoogleTokenOptions {
  /** OAuth clients the endpoint knows: id -> secret. */
  clients: Record<string, string>;
  /** Lifetime of issued access tokens, in seconds (Google: 3599). Short values make tests rotate. */
  accessTokenLifetimeSeconds?: number;
}

/**
 * Google's OAuth token endpoint (`POST /token`, form-encoded) for tests:
 * - `refresh_token` grants need a known client (id and secret) and a live refresh token of
 *   that client; each use spends it and issues a new one (a spent token is `invalid_grant`,
 *   like a revoked one at Google);
 * - JWT-bearer grants (service accounts) need an RS256 assertion whose signature verifies
 *   against a registered account's public key, with `aud` = this endpoint and a valid window.
 * Access tokens expire after `accessTokenLifetimeSeconds`; upstream mocks ask `verify()`.
 */
export class MockGoogleTokenServer {
  /** Every grant request received, form fields decoded. */
  readonly requests: { grantType: string; fields: Record<string, string> }[] = [];
  private readonly refreshTokens = new Map<string, { clientId: string; spent: boolean }>();
  private readonly accessTokens = new Map<string, IssuedToken>();
  private readonly accounts = new Map<string, KeyObject>();
  private server?: { url: string; close(): Promise<void> };
  private issued = 0;

  constructor(private readonly options: MockGoogleTokenOptions) {}

  /** The endpoint's URL (`.../token`), what OAUTH_TOKEN_URL_* and token_uri point at. */
  get tokenUrl(): string {
    if (!this.server) throw new Error('mock token server is not started');
    return `${this.server.url}/token`;
  }

  async start(): Promise<this> {
    this.server = await startGoogleServer((req) => this.handle(req));
    return this;
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  /** A refresh token of a client, as a login would have produced it. */
  issueRefreshToken(clientId: string): string {
    const token = `1//mock-${randomBytes(12).toString('base64url')}`;
    this.refreshTokens.set(token, { clientId, spent: false });
    return token;
  }

  /** A service-account key file whose token_uri is this endpoint; its public key is registered. */
  createServiceAccount(projectId: string, name = 'router'): TestServiceAccount {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const email = `${name}@${projectId}.iam.gserviceaccount.com`;
    this.accounts.set(email, publicKey);
    return {
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
      token_uri: this.tokenUrl,
    };
  }

  /** Whether an access token is one this endpoint issued and still live. */
  verify(accessToken: string, now = Date.now()): 'valid' | 'expired' | 'unknown' {
    const token = this.accessTokens.get(accessToken);
    if (!token) return 'unknown';
    return token.expiresAt > now ? 'valid' : 'expired';
  }

  /** Whether a refresh token may still be used (`live`), was used up (`spent`), or was never issued. */
  refreshTokenState(refreshToken: string): 'live' | 'spent' | 'unknown' {
    const stored = this.refreshTokens.get(refreshToken);
    if (!stored) return 'unknown';
    return stored.spent ? 'spent' : 'live';
  }

  /** Access tokens issued so far per subject (client id or service-account e-mail). */
  issuedTo(subject: string): number {
    return [...this.accessTokens.values()].filter((t) => t.subject === subject).length;
  }

  private issue(subject: string): { access_token: string; expires_in: number; token_type: string } {
    const lifetime = this.options.accessTokenLifetimeSeconds ?? 3599;
    const accessToken = `ya29.mock-${++this.issued}-${randomBytes(8).toString('base64url')}`;
    this.accessTokens.set(accessToken, { subject, expiresAt: Date.now() + lifetime * 1000 });
    return { access_token: accessToken, expires_in: lifetime, token_type: 'Bearer' };
  }

  private handle(req: GoogleRequest): GoogleReply {
    if (req.method !== 'POST' || req.path !== '/token')
      return { status: 404, body: 'Not Found', headers: { 'content-type': 'text/html' } };
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return oauthError(400, 'invalid_request', 'Invalid content type');
    }
    const fields = Object.fromEntries(new URLSearchParams(req.rawBody));
    const grantType = fields.grant_type ?? '';
    this.requests.push({ grantType, fields });
    if (grantType === 'refresh_token') return this.refreshGrant(fields);
    if (grantType === JWT_BEARER) return this.jwtGrant(fields.assertion ?? '');
    return oauthError(400, 'unsupported_grant_type', 'Invalid grant_type: ' + grantType);
  }

  private refreshGrant(fields: Record<string, string>): GoogleReply {
    const clientId = fields.client_id ?? '';
    if (!(clientId in this.options.clients) || this.options.clients[clientId] !== fields.client_secret) {
      return oauthError(401, 'invalid_client', 'The OAuth client was not found.');
    }
    const stored = this.refreshTokens.get(fields.refresh_token ?? '');
    if (!stored || stored.spent || stored.clientId !== clientId)
      return oauthError(400, 'invalid_grant', 'Token has been expired or revoked.');
    stored.spent = true;
    return {
      status: 200,
      body: {
        ...this.issue(clientId),
        refresh_token: this.issueRefreshToken(clientId),
        scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid',
      },
    };
  }

  private jwtGrant(assertion: string): GoogleReply {
    const [headerPart, claimsPart, signature] = assertion.split('.');
    if (!headerPart || !claimsPart || !signature)
      return oauthError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.',
      );
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(claimsPart, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return oauthError(400, 'invalid_grant', 'Invalid JWT: Unable to parse.');
    }
    if (header.alg !== 'RS256') return oauthError(400, 'invalid_grant', 'Invalid JWT: unsupported algorithm.');
    const email = typeof claims.iss === 'string' ? claims.iss : '';
    const key = this.accounts.get(email);
    if (!key) return oauthError(400, 'invalid_grant', 'Invalid grant: account not found');
    const verified = createVerify('RSA-SHA256')
      .update(`${headerPart}.${claimsPart}`)
      .verify(key, Buffer.from(signature, 'base64url'));
    if (!verified) return oauthError(400, 'invalid_grant', 'Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || iat > now + 60 || exp <= now || exp - iat > 3600) {
      return oauthError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.',
      );
    }
    if (claims.aud !== this.tokenUrl) return oauthError(400, 'invalid_grant', 'Invalid JWT: Failed audience check.');
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(CLOUD_PLATFORM)) {
      return oauthError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    }
    return { status: 200, body: this.issue(email) };
  }
}

function oauthError(status: number, error: string, description: string): GoogleReply {
  return { status, body: { error, error_description: description } };
}
