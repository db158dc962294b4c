import { createVerify, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockGoogleTokenServer, startCodeAssistMock, type CodeAssistMock } from '@cpa/testing';
import {
  ANTIGRAVITY_OAUTH_CLIENT_ID,
  ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  antigravityRefresher,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
  geminiCliRefresher,
  tokenUrl,
  vertexRefresher,
} from './refreshers';
import { applyTokenSet } from './secret';
import {
  CLOUD_PLATFORM_SCOPE,
  InvalidServiceAccountError,
  serviceAccountOf,
  signServiceAccountAssertion,
} from './service-account';
import { OAuthRefreshError, TokenClient } from './token-client';

const google = new MockGoogleTokenServer({
  clients: {
    [GEMINI_CLI_OAUTH_CLIENT_ID]: GEMINI_CLI_OAUTH_CLIENT_SECRET,
    [ANTIGRAVITY_OAUTH_CLIENT_ID]: ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  },
  accessTokenLifetimeSeconds: 60,
});
const client = new TokenClient();
let codeAssist: CodeAssistMock;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await google.start();
  codeAssist = await startCodeAssistMock({
    verifyToken: (t) => google.verify(t),
    projects: ['looked-up-1'],
    loadCodeAssistProject: 'looked-up-1',
  });
  env = { OAUTH_TOKEN_URL_GEMINI: google.tokenUrl, ANTIGRAVITY_BASE_URL: codeAssist.url };
});
afterAll(async () => {
  await client.close();
  await codeAssist.close();
  await google.close();
});

describe('service-account JWT', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const account = {
    client_email: 'router@proj.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    private_key_id: 'kid-1',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  const now = new Date('2025-06-01T12:00:00Z');

  it('is RS256-signed by the account key, for cloud-platform, audience the token URI, one hour', () => {
    const jwt = signServiceAccountAssertion(account, now);
    const [header, claims, signature] = jwt.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'JWT',
      kid: 'kid-1',
    });
    expect(JSON.parse(Buffer.from(claims!, 'base64url').toString())).toEqual({
      iss: account.client_email,
      scope: CLOUD_PLATFORM_SCOPE,
      aud: 'https://oauth2.googleapis.com/token',
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 3600,
    });
    expect(
      createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, Buffer.from(signature!, 'base64url')),
    ).toBe(true);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(
      createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(other, Buffer.from(signature!, 'base64url')),
    ).toBe(false);
  });

  it('accepts a key whose newlines arrived escaped', () => {
    const escaped = { ...account, private_key: account.private_key.replace(/\n/g, '\\n') };
    expect(signServiceAccountAssertion(escaped, now)).toBe(signServiceAccountAssertion(account, now));
  });

  it('a secret without a usable service account names the problem, not the key', () => {
    expect(() => serviceAccountOf({})).toThrow(InvalidServiceAccountError);
    const broken = { ...account, private_key: 'not a key' };
    const error = (() => {
      try {
        signServiceAccountAssertion(broken, now);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidServiceAccountError);
    expect(error!.message).not.toContain('not a key');
  });
});

describe('vertex refresher (JWT-bearer grant)', () => {
  it("exchanges a signed assertion at the account's token_uri for an access token, keeping no refresh token", async () => {
    const serviceAccount = google.createServiceAccount('vertex-proj');
    const secret = { serviceAccount, projectId: 'vertex-proj', location: 'us-central1' };
    const grant = vertexRefresher.grantOf!(secret, new Date());
    const tokens = await client.refresh(vertexRefresher, grant, { secret, env: {} });
    expect(google.verify(tokens.accessToken)).toBe('valid');
    expect(tokens.refreshToken).toBeUndefined();
    expect(tokens.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    const stored = applyTokenSet(secret, tokens, new Date());
    expect(stored).toMatchObject({ accessToken: tokens.accessToken, serviceAccount, projectId: 'vertex-proj' });
    expect(stored.refreshToken).toBeUndefined();
    expect(google.requests.at(-1)!.grantType).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  it('an assertion signed with another key is refused for good (invalid_grant)', async () => {
    const serviceAccount = google.createServiceAccount('vertex-proj', 'victim');
    const impostor = {
      ...serviceAccount,
      private_key: generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    };
    const secret = { serviceAccount: impostor };
    const error = (await client
      .refresh(vertexRefresher, vertexRefresher.grantOf!(secret, new Date()), { secret, env: {} })
      .catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error).toBeInstanceOf(OAuthRefreshError);
    expect(error.code).toBe('invalid_grant');
    expect(error.permanent).toBe(true);
  });
});

describe('Google login refreshers against the token endpoint', () => {
  it('gemini-cli and antigravity share OAUTH_TOKEN_URL_GEMINI', () => {
    expect(tokenUrl('gemini-cli', env)).toBe(google.tokenUrl);
    expect(tokenUrl('antigravity', env)).toBe(google.tokenUrl);
    expect(tokenUrl('antigravity', {})).toBe('https://oauth2.googleapis.com/token');
  });

  it('a spent refresh token is refused: each refresh must use the one the last refresh stored', async () => {
    const first = google.issueRefreshToken(GEMINI_CLI_OAUTH_CLIENT_ID);
    const tokens = await client.refresh(geminiCliRefresher, first, { env });
    expect(google.verify(tokens.accessToken)).toBe('valid');
    expect(tokens.refreshToken).not.toBe(first);
    const reused = (await client
      .refresh(geminiCliRefresher, first, { env })
      .catch((e: unknown) => e)) as OAuthRefreshError;
    expect(reused.code).toBe('invalid_grant');
    expect(reused.permanent).toBe(true);
    await expect(client.refresh(geminiCliRefresher, tokens.refreshToken!, { env })).resolves.toMatchObject({
      accessToken: expect.stringMatching(/^ya29\./),
    });
  });

  it('a login of one client cannot be refreshed with the other client', async () => {
    const cliToken = google.issueRefreshToken(GEMINI_CLI_OAUTH_CLIENT_ID);
    const error = (await client
      .refresh(antigravityRefresher, cliToken, { env, secret: { projectId: 'p' } })
      .catch((e: unknown) => e)) as OAuthRefreshError;
    expect(error.code).toBe('invalid_grant');
  });

  it('antigravity looks its project up with loadCodeAssist when the secret has none', async () => {
    codeAssist.reset();
    const refreshToken = google.issueRefreshToken(ANTIGRAVITY_OAUTH_CLIENT_ID);
    const tokens = await client.refresh(antigravityRefresher, refreshToken, { env, secret: { refreshToken } });
    expect(tokens.extra).toMatchObject({ projectId: 'looked-up-1' });

    const again = await client.refresh(antigravityRefresher, tokens.refreshToken!, {
      env,
      secret: { refreshToken, projectId: 'kept' },
    });
    expect(again.extra.projectId).toBeUndefined();
    expect(applyTokenSet({ projectId: 'kept' }, again, new Date()).projectId).toBe('kept');
  });

  it('a failed project lookup leaves the project out, never the tokens', async () => {
    const refreshToken = google.issueRefreshToken(ANTIGRAVITY_OAUTH_CLIENT_ID);
    const tokens = await client.refresh(antigravityRefresher, refreshToken, {
      env: { ...env, ANTIGRAVITY_BASE_URL: 'http://127.0.0.1:1' },
      secret: {},
    });
    expect(google.verify(tokens.accessToken)).toBe('valid');
    expect(tokens.extra.projectId).toBeUndefined();
    // With a base that answers later in the list, that one is asked.
    const next = await client.refresh(antigravityRefresher, tokens.refreshToken!, {
      env: { ...env, ANTIGRAVITY_BASE_URL: `http://127.0.0.1:1,${codeAssist.url}` },
      secret: {},
    });
    expect(next.extra.projectId).toBe('looked-up-1');
  });
});
