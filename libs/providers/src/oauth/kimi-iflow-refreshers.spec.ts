import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kimiDeviceId } from '../families/kimi';
import { MockTokenServer, RotatingTokens, type RecordedTokenRequest } from '@cpa/testing';
import {
  IFLOW_OAUTH_CLIENT_ID,
  IFLOW_OAUTH_CLIENT_SECRET,
  iflowRefresher,
  KIMI_OAUTH_CLIENT_ID,
  kimiRefresher,
  tokenUrl,
} from './refreshers';
import { applyTokenSet } from './secret';
import { OAuthRefreshError, TokenClient } from './token-client';

const NOW = new Date('2030-01-01T00:00:00Z');
const server = new MockTokenServer();
const client = new TokenClient({ timeoutMs: 5_000 });
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await server.start();
  env = {
    OAUTH_TOKEN_URL_KIMI: `${server.url}/kimi/token`,
    OAUTH_TOKEN_URL_IFLOW: `${server.url}/iflow/token`,
    IFLOW_USER_INFO_URL: `${server.url}/iflow/userinfo`,
  };
});
afterAll(async () => {
  await client.close();
  await server.stop();
});
beforeEach(() => {
  server.requests.length = 0;
});

describe('Kimi', () => {
  it('posts the refresh grant with the public client id to auth.kimi.com (OAUTH_TOKEN_URL_KIMI overrides)', () => {
    expect(tokenUrl('kimi', {})).toBe('https://auth.kimi.com/api/oauth/token');
    const req = kimiRefresher.buildRequest('rt-1', env, { deviceId: 'dev-1' }, 'cred-1');
    expect(req.url).toBe(`${server.url}/kimi/token`);
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      client_id: KIMI_OAUTH_CLIENT_ID,
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
    });
    expect(req.headers).toMatchObject({
      'content-type': 'application/x-www-form-urlencoded',
      'x-msh-platform': 'kimi_cli',
      'x-msh-device-id': 'dev-1',
    });
  });

  it('presents the device id the executor presents when the login has none', () => {
    const req = kimiRefresher.buildRequest('rt-1', env, {}, 'cred-1');
    expect(req.headers['x-msh-device-id']).toBe(kimiDeviceId({}, 'cred-1'));
  });

  it('rotates both tokens against a rotating endpoint; a spent refresh token is a refused grant', async () => {
    const rotating = new RotatingTokens({ expiresIn: 900 }).seed('kimi-rt');
    server.handler = rotating.handler;
    const tokens = await client.refresh(kimiRefresher, 'kimi-rt', {
      env,
      now: NOW,
      secret: { deviceId: 'dev-1' },
      credentialId: 'cred-1',
    });
    expect(tokens.accessToken).toBe('rotated-access-1');
    expect(tokens.refreshToken).toMatch(/^rotated-refresh-1-/);
    expect(tokens.expiresAt).toEqual(new Date(NOW.getTime() + 900_000));
    expect(server.requests[0]!.headers['x-msh-device-id']).toBe('dev-1');

    const again = await client.refresh(kimiRefresher, 'kimi-rt', { env, now: NOW }).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(OAuthRefreshError);
    expect(again).toMatchObject({ permanent: true, code: 'invalid_grant' });
    expect((again as Error).message).not.toContain('kimi-rt');
  });

  it('a 401 from the token endpoint needs a new login', async () => {
    server.handler = () => ({
      status: 401,
      body: { error: 'unauthorized', error_description: 'refresh token revoked' },
    });
    await expect(client.refresh(kimiRefresher, 'kimi-rt', { env, now: NOW })).rejects.toMatchObject({
      permanent: true,
      status: 401,
    });
  });
});

describe('iFlow', () => {
  /** iFlow's token endpoint and user info: Basic client auth, and the API key for a live access token. */
  function iflowServer(userInfo: (token: string) => { status: number; body: unknown }) {
    const rotating = new RotatingTokens({ expiresIn: 7 * 86_400 }).seed('iflow-rt');
    server.handler = (req: RecordedTokenRequest, index) => {
      if (req.path.startsWith('/iflow/userinfo')) {
        if (req.method !== 'GET') return { status: 405, body: { success: false } };
        return userInfo(new URL(req.path, server.url).searchParams.get('accessToken') ?? '');
      }
      const basic = `Basic ${Buffer.from(`${IFLOW_OAUTH_CLIENT_ID}:${IFLOW_OAUTH_CLIENT_SECRET}`).toString('base64')}`;
      if (
        req.headers.authorization !== basic ||
        req.fields.client_id !== IFLOW_OAUTH_CLIENT_ID ||
        req.fields.client_secret !== IFLOW_OAUTH_CLIENT_SECRET
      ) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      return rotating.handler(req, index);
    };
  }

  it('posts the refresh grant with Basic client auth and the client in the form (OAUTH_TOKEN_URL_IFLOW overrides)', () => {
    expect(tokenUrl('iflow', {})).toBe('https://iflow.cn/oauth/token');
    const req = iflowRefresher.buildRequest('rt-1', env);
    expect(req.url).toBe(`${server.url}/iflow/token`);
    expect(Buffer.from(req.headers.authorization!.replace(/^Basic /, ''), 'base64').toString()).toBe(
      `${IFLOW_OAUTH_CLIENT_ID}:${IFLOW_OAUTH_CLIENT_SECRET}`,
    );
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      client_id: IFLOW_OAUTH_CLIENT_ID,
      client_secret: IFLOW_OAUTH_CLIENT_SECRET,
    });
  });

  it('reads the API key and e-mail again from the user info with the new access token', async () => {
    iflowServer((token) => ({
      status: 200,
      body: { success: true, data: { apiKey: `sk-for-${token}`, email: 'iflow@example.com', phone: '' } },
    }));
    const tokens = await client.refresh(iflowRefresher, 'iflow-rt', { env, now: NOW });
    expect(tokens.accessToken).toBe('rotated-access-1');
    expect(tokens.extra).toEqual({ apiKey: 'sk-for-rotated-access-1', email: 'iflow@example.com' });
    expect(server.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      'POST /iflow/token',
      'GET /iflow/userinfo',
    ]);
    const secret = applyTokenSet({ apiKey: 'sk-old', accessToken: 'old', refreshToken: 'iflow-rt' }, tokens, NOW);
    expect(secret).toMatchObject({
      apiKey: 'sk-for-rotated-access-1',
      accessToken: 'rotated-access-1',
      email: 'iflow@example.com',
    });
  });

  it('takes the phone number when the account has no e-mail', async () => {
    iflowServer(() => ({
      status: 200,
      body: { success: true, data: { apiKey: 'sk-phone', email: '', phone: '13800000000' } },
    }));
    expect((await client.refresh(iflowRefresher, 'iflow-rt', { env, now: NOW })).extra).toEqual({
      apiKey: 'sk-phone',
      email: '13800000000',
    });
  });

  it.each([
    ['refuses', { status: 200, body: { success: false, message: 'token invalid' } }],
    ['fails', { status: 500, body: 'oops' }],
    ['has no key', { status: 200, body: { success: true, data: { apiKey: '', email: 'x@example.com' } } }],
  ])(
    'keeps the new tokens and the stored key when the user info %s (the refresh token is already spent)',
    async (_what, reply) => {
      iflowServer(() => reply);
      const tokens = await client.refresh(iflowRefresher, 'iflow-rt', { env, now: NOW });
      expect(tokens.accessToken).toBe('rotated-access-1');
      expect(tokens.extra).not.toHaveProperty('apiKey');
      expect(applyTokenSet({ apiKey: 'sk-old', refreshToken: 'iflow-rt' }, tokens, NOW)).toMatchObject({
        apiKey: 'sk-old',
        accessToken: 'rotated-access-1',
      });
    },
  );

  it('a wrong client is a refused grant', async () => {
    server.handler = () => ({ status: 401, body: { error: 'invalid_client' } });
    await expect(client.refresh(iflowRefresher, 'iflow-rt', { env, now: NOW })).rejects.toMatchObject({
      permanent: true,
      code: 'invalid_client',
    });
  });
});
