/**
 * The global `proxy-url` set through the management API reaches the executors without a
 * restart; a credential's own `proxy-url` (here `direct`) wins over it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConnectProxy, waitFor, type TestProxy } from '@cpa/testing';
import { useStack } from './stack-fixture';

const PROXIED_KEY = 'px-key-proxied';
const DIRECT_KEY = 'px-key-direct';
let proxy: TestProxy;

const { mock, openai, management } = useStack({
  config: (upstream) => ({
    'openai-compatibility': [
      {
        name: 'px',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': PROXIED_KEY }, { 'api-key': DIRECT_KEY, 'proxy-url': 'direct' }],
        models: [{ name: 'px-model', alias: 'px-model' }],
      },
    ],
  }),
});

beforeAll(async () => {
  proxy = await startConnectProxy();
});
afterAll(() => proxy?.close());

const json = async (path: string, init?: RequestInit) => {
  const response = await management(path, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** DELETE without a body (the fixture's JSON content type would announce one). */
const remove = (path: string) => json(path, { method: 'DELETE', headers: { 'content-type': 'text/plain' } });

/** Sends `n` requests and returns the upstream keys that served them. */
async function servedBy(n: number): Promise<string[]> {
  mock.reset();
  for (let i = 0; i < n; i++)
    await openai().chat.completions.create({
      model: 'px-model',
      messages: [{ role: 'user', content: 'through which proxy' }],
    });
  return mock.requests.map((r) => r.apiKey);
}

describe('proxy-url at runtime', () => {
  it('GET/PUT/PATCH/DELETE /proxy-url as CLIProxyAPI, with invalid values refused', async () => {
    expect(await json('/proxy-url')).toEqual({ status: 200, body: { 'proxy-url': '' } });
    expect(
      (await json('/proxy-url', { method: 'PUT', body: JSON.stringify({ value: 'ftp://user:hunter2@127.0.0.1:21' }) }))
        .status,
    ).toBe(400);
    expect(
      (await json('/proxy-url', { method: 'PATCH', body: JSON.stringify({ value: 'socks5://127.0.0.1:1' }) })).status,
    ).toBe(200);
    expect(await json('/proxy-url')).toEqual({ status: 200, body: { 'proxy-url': 'socks5://127.0.0.1:1' } });
    expect((await remove('/proxy-url')).status).toBe(200);
    expect(await json('/proxy-url')).toEqual({ status: 200, body: { 'proxy-url': '' } });
  });

  it('routes upstream calls through the global proxy once set, except for a direct credential, and stops when deleted', async () => {
    expect(new Set(await servedBy(4))).toEqual(new Set([PROXIED_KEY, DIRECT_KEY]));
    expect(proxy.tunnels).toHaveLength(0);

    expect((await json('/proxy-url', { method: 'PUT', body: JSON.stringify({ value: proxy.url }) })).status).toBe(200);
    await waitFor(async () => {
      await servedBy(2);
      return proxy.sentText().includes(PROXIED_KEY);
    }, 5_000);
    await servedBy(6);
    expect(proxy.sentText()).not.toContain(DIRECT_KEY);
    for (const tunnel of proxy.tunnels) expect(tunnel.target).toBe(new URL(mock.url).host);

    expect((await remove('/proxy-url')).status).toBe(200);
    await waitFor(async () => {
      const before = proxy.sentText().length;
      await servedBy(4);
      return proxy.sentText().length === before;
    }, 5_000);
  });
});
