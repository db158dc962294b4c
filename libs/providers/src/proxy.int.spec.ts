import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { PublishedCatalog } from '@cpa/catalog/testing';
import { SettingKeys } from '@cpa/config';
import { Patterns, type AttemptFailure, type ExecuteRequest, type ResponseHead } from '@cpa/contracts';
import { CredentialRepository, SettingsRepository, UnitOfWork, type CredentialRecord } from '@cpa/db';
import {
  startConnectProxy,
  startMockUpstream,
  startSocks5Proxy,
  type MockUpstream,
  type TestProxy,
} from '@cpa/testing';
import { isForward, isFrame, type Frame } from '@cpa/transport';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { ExecutionService } from './execution.service';
import { MockTokenServer, RotatingTokens } from '@cpa/testing';
import { CredentialRefreshService } from './oauth/credential-refresh.service';
import { TokenClient } from './oauth/token-client';
import { SecretStore } from './secret-store';
import { UpstreamClient } from './upstream-client';

// Per-credential and global proxies for upstream calls and token refreshes: an HTTP CONNECT
// proxy (the global proxy-url), a SOCKS5 proxy with a password (one credential's own
// proxy_url) and a credential that bypasses both (`direct`), all against local servers.
let db: TestDatabase;
let mock: MockUpstream;
let tokens: MockTokenServer;
let httpProxy: TestProxy;
let socksProxy: TestProxy;
let credentials: CredentialRepository;
let settings: SettingsRepository;
let tokenClient: TokenClient;
let upstream: UpstreamClient;
const rotating = new RotatingTokens({ expiresIn: 60 });
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  db = await createTestDatabase('cpa_proxy_test');
  credentials = new CredentialRepository(db.prisma, db.box);
  settings = new SettingsRepository(db.prisma);
  mock = await startMockUpstream();
  tokens = await new MockTokenServer().start();
  tokens.handler = rotating.handler;
  process.env.OAUTH_TOKEN_URL_CLAUDE = `${tokens.url}/v1/oauth/token`;
  httpProxy = await startConnectProxy();
  socksProxy = await startSocks5Proxy({ username: 'proxy-user', password: 'proxy-pass' });
  tokenClient = new TokenClient();
  upstream = new UpstreamClient();
});

afterAll(async () => {
  for (const close of closers) await close();
  await tokenClient?.close();
  await upstream?.close();
  await httpProxy?.close();
  await socksProxy?.close();
  await tokens?.stop();
  await mock?.close();
  await db?.close();
});

interface Login {
  record: CredentialRecord;
  refreshToken: string;
}

async function createLogin(proxyUrl: string): Promise<Login> {
  const refreshToken = `rt-${randomUUID()}`;
  rotating.seed(refreshToken);
  const record = await credentials.create({
    provider: 'claude',
    kind: 'oauth',
    baseUrl: mock.url,
    proxyUrl,
    expiresAt: new Date(Date.now() + 60_000),
    secret: { accessToken: `at-${randomUUID()}`, refreshToken, tokenType: 'Bearer' },
  });
  return { record, refreshToken };
}

function request(credentialId: string): ExecuteRequest {
  return {
    route: {
      requestId: randomUUID(),
      clientFormat: 'claude',
      model: 'claude-sonnet-4-5',
      stream: false,
      sessionIds: [],
      headers: {},
      deadline: Date.now() + 10_000,
    },
    credentialId,
    family: 'claude',
    upstreamModel: 'claude-sonnet-4-5',
    baseModel: 'claude-sonnet-4-5',
    attempt: 0,
    triedCredentialIds: [credentialId],
  };
}

async function executor(): Promise<ExecutionService> {
  const published = new PublishedCatalog(db.prisma);
  closers.push(() => published.close());
  const catalog = await published.publish();
  return new ExecutionService(catalog, new SecretStore(catalog, db.box), upstream, { report: () => undefined });
}

async function execute(
  service: ExecutionService,
  credentialId: string,
): Promise<{ status: number; text: string } | AttemptFailure> {
  const body = {
    model: 'claude-sonnet-4-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: `hello via ${credentialId}` }],
  };
  const out = await service.execute(
    request(credentialId),
    Buffer.from(JSON.stringify(body)),
    new AbortController().signal,
  );
  if (isForward(out)) {
    expect(out.pattern).toBe(Patterns.attemptFailed);
    return out.data as AttemptFailure;
  }
  const frames = isFrame(out) ? [out] : await lastValueFrom((out as Observable<Frame>).pipe(toArray()));
  return {
    status: (frames[0]!.meta as ResponseHead).status,
    text: frames.map((f) => f.body?.toString() ?? '').join(''),
  };
}

describe('proxies for upstream calls and token refreshes', () => {
  it('each proxy carries only the traffic of the credentials using it', async () => {
    await settings.set(SettingKeys.proxyUrl, httpProxy.url);
    const socksUrl = socksProxy.url.replace('socks5://', 'socks5h://proxy-user:proxy-pass@');
    const viaGlobal = await createLogin('');
    const viaSocks = await createLogin(socksUrl);
    const direct = await createLogin('direct');
    const logins = [viaGlobal, viaSocks, direct];
    const refresher = new CredentialRefreshService(
      credentials,
      new UnitOfWork(db.prisma, db.box),
      tokenClient,
      settings,
    );

    for (const login of logins) expect(await refresher.refresh(login.record.id)).toMatchObject({ status: 'refreshed' });
    const accessTokens = new Map<Login, string>();
    for (const login of logins)
      accessTokens.set(login, (await credentials.getSecret(login.record.id))!.accessToken as string);

    const service = await executor();
    for (const login of logins) {
      const result = await execute(service, login.record.id);
      expect(result).toMatchObject({ status: 200 });
    }
    // The upstream saw each credential's new token, whichever way it came.
    expect(mock.requests.map((r) => r.apiKey).sort()).toEqual([...accessTokens.values()].sort());

    // Each proxy saw the token request (old refresh token) and the upstream call (new access
    // token) of its own credential, and nothing of the others.
    const sees = (proxy: TestProxy, login: Login) => {
      const text = proxy.sentText();
      return text.includes(login.refreshToken) && text.includes(accessTokens.get(login)!);
    };
    const seesAnything = (proxy: TestProxy, login: Login) => {
      const text = proxy.sentText();
      return (
        text.includes(login.refreshToken) || text.includes(accessTokens.get(login)!) || text.includes(login.record.id)
      );
    };
    expect(sees(httpProxy, viaGlobal)).toBe(true);
    expect(seesAnything(httpProxy, viaSocks)).toBe(false);
    expect(seesAnything(httpProxy, direct)).toBe(false);
    expect(sees(socksProxy, viaSocks)).toBe(true);
    expect(seesAnything(socksProxy, viaGlobal)).toBe(false);
    expect(seesAnything(socksProxy, direct)).toBe(false);

    // Both tunnelled to the local token endpoint and upstream only.
    const local = new Set([new URL(tokens.url).host, new URL(mock.url).host]);
    for (const proxy of [httpProxy, socksProxy]) {
      expect(proxy.tunnels.length).toBeGreaterThanOrEqual(2);
      for (const tunnel of proxy.tunnels) expect(local).toContain(tunnel.target);
    }
  });

  it('an unusable proxy fails the call instead of connecting directly, without quoting the URL', async () => {
    await settings.set(SettingKeys.proxyUrl, 'ftp://secret-user:secret-pass@127.0.0.1:21');
    const login = await createLogin('');
    const before = {
      http: httpProxy.tunnels.length,
      socks: socksProxy.tunnels.length,
      tokens: tokens.requests.length,
      upstream: mock.requests.length,
    };
    const refresher = new CredentialRefreshService(
      credentials,
      new UnitOfWork(db.prisma, db.box),
      tokenClient,
      settings,
    );

    const refreshed = await refresher.refresh(login.record.id);
    expect(refreshed).toMatchObject({ status: 'failed', permanent: false });
    expect(JSON.stringify(refreshed)).not.toContain('secret-pass');

    const failure = (await execute(await executor(), login.record.id)) as AttemptFailure;
    expect(failure.status).toBe(502);
    expect(JSON.stringify(failure)).toContain('unsupported scheme ftp:');
    expect(JSON.stringify(failure)).not.toContain('secret-pass');
    expect({
      http: httpProxy.tunnels.length,
      socks: socksProxy.tunnels.length,
      tokens: tokens.requests.length,
      upstream: mock.requests.length,
    }).toEqual(before);
    await settings.set(SettingKeys.proxyUrl, undefined);
  });
});
