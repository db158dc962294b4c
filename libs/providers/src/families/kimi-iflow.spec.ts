import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RouteRequest } from '@cpa/contracts';
import { startIFlowMock, startKimiMock, type ChatSubscriptionMock } from '@cpa/testing';
import {
  joinedBody,
  parseJsonObject,
  type UpstreamBody,
  type UpstreamCall,
  type UpstreamTarget,
} from '../provider-adapter';
import { iflowAdapter, iflowHeaders, iflowSignature } from './iflow';
import { kimiAdapter, kimiDeviceHeaders, kimiDeviceId, kimiHeaders, kimiUpstreamModel } from './kimi';

function call(overrides: Partial<UpstreamCall> = {}): UpstreamCall {
  const route: RouteRequest = {
    requestId: 'r1',
    clientFormat: 'openai-chat',
    model: 'm',
    stream: false,
    sessionIds: [],
    headers: {},
    deadline: 0,
  };
  return {
    route,
    format: 'openai-chat',
    upstreamModel: 'kimi-k2.5',
    kind: 'oauth',
    baseUrl: '',
    headers: {},
    secret: {},
    credentialId: 'cred-1',
    ...overrides,
  };
}

const chatBody = (extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hello mock' }], ...extra }));
const parse = parseJsonObject;

afterEach(() => vi.unstubAllEnvs());

describe('iFlow signature and headers', () => {
  it('signs iFlow-Cli:<session>:<timestamp> with HMAC-SHA256 keyed by the API key (known answer from openssl)', () => {
    // echo -n 'iFlow-Cli:session-0f8f…950e:1700000000000' | openssl dgst -sha256 -hmac sk-iflow-test
    expect(
      iflowSignature('iFlow-Cli', 'session-0f8fad5b-d9cb-469f-a165-70867728950e', 1_700_000_000_000, 'sk-iflow-test'),
    ).toBe('d80cc25d6e4475d0d7b5e2a783db1269f67171d2c0f21eb51d428bcc3c4cdfad');
    expect(
      iflowSignature('iFlow-Cli', 'session-0f8fad5b-d9cb-469f-a165-70867728950e', 1_700_000_000_001, 'sk-iflow-test'),
    ).not.toBe('d80cc25d6e4475d0d7b5e2a783db1269f67171d2c0f21eb51d428bcc3c4cdfad');
  });

  it('sends the key as Bearer with the session, timestamp and signature headers', () => {
    const identity = { sessionId: 'session-0f8fad5b-d9cb-469f-a165-70867728950e', timestampMs: 1_700_000_000_000 };
    expect(iflowHeaders('sk-iflow-test', true, identity)).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer sk-iflow-test',
      'user-agent': 'iFlow-Cli',
      'session-id': identity.sessionId,
      'x-iflow-timestamp': '1700000000000',
      'x-iflow-signature': 'd80cc25d6e4475d0d7b5e2a783db1269f67171d2c0f21eb51d428bcc3c4cdfad',
      accept: 'text/event-stream',
    });
    expect(iflowHeaders('sk-iflow-test', false, identity).accept).toBe('application/json');
  });
});

describe('iflowAdapter', () => {
  const secret = { apiKey: 'sk-iflow', accessToken: 'iflow-access', refreshToken: 'r' };

  it('calls {IFLOW_BASE_URL|https://apis.iflow.cn/v1}/chat/completions with the API key, never the access token', () => {
    const target = iflowAdapter.target(call({ secret }), false);
    expect(target.url).toBe('https://apis.iflow.cn/v1/chat/completions');
    expect(target.headers.authorization).toBe('Bearer sk-iflow');
    expect(target.headers['session-id']).toMatch(/^session-[0-9a-f-]{36}$/);
    expect(Number(target.headers['x-iflow-timestamp'])).toBeGreaterThan(Date.now() - 5_000);
    expect(target.headers['x-iflow-signature']).toBe(
      iflowSignature(
        'iFlow-Cli',
        target.headers['session-id'],
        Number(target.headers['x-iflow-timestamp']),
        'sk-iflow',
      ),
    );
    // A new session per request.
    expect(iflowAdapter.target(call({ secret }), false).headers['session-id']).not.toBe(target.headers['session-id']);

    vi.stubEnv('IFLOW_BASE_URL', 'http://127.0.0.1:9/v1');
    expect(iflowAdapter.target(call({ secret }), false).url).toBe('http://127.0.0.1:9/v1/chat/completions');
    expect(iflowAdapter.target(call({ secret, baseUrl: 'http://127.0.0.1:8/v1/' }), false).url).toBe(
      'http://127.0.0.1:8/v1/chat/completions',
    );
  });

  it('refuses a login without an API key, naming no token', () => {
    expect(() => iflowAdapter.target(call({ secret: { accessToken: 'iflow-access' } }), false)).toThrow(
      /^iflow credential has no API key/,
    );
    try {
      iflowAdapter.target(call({ secret: { accessToken: 'iflow-access' } }), false);
    } catch (error) {
      expect((error as Error).message).not.toContain('iflow-access');
    }
  });

  it('replaces an empty tool list on streams with a placeholder (as CLIProxyAPI does) and leaves other bodies alone', () => {
    const streamed = parse(iflowAdapter.prepareBody!(call({ secret }), chatBody({ tools: [] }), true));
    expect(streamed.tools).toEqual([
      expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'noop' }) }),
    ]);
    const plain = chatBody({ tools: [] });
    expect(iflowAdapter.prepareBody!(call({ secret }), plain, false)).toBe(plain);
  });
});

describe('Kimi headers, device id and models', () => {
  const device = { name: 'build-host', model: 'linux amd64' };

  it('presents Kimi CLI with the platform, version and device headers', () => {
    expect(kimiHeaders('kimi-token', 'dev-1', false, device)).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer kimi-token',
      'user-agent': 'KimiCLI/1.10.6',
      'x-msh-platform': 'kimi_cli',
      'x-msh-version': '1.10.6',
      'x-msh-device-name': 'build-host',
      'x-msh-device-model': 'linux amd64',
      'x-msh-device-id': 'dev-1',
      accept: 'application/json',
    });
    expect(kimiHeaders('kimi-token', 'dev-1', true, device).accept).toBe('text/event-stream');
    expect(kimiDeviceHeaders('dev-1', device)).not.toHaveProperty('authorization');
  });

  it("uses the login's device id, else one derived from the credential that every replica derives alike", () => {
    expect(kimiDeviceId({ deviceId: ' dev-1 ' }, 'cred-1')).toBe('dev-1');
    const derived = kimiDeviceId({}, 'cred-1');
    expect(derived).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(kimiDeviceId({}, 'cred-1')).toBe(derived);
    expect(kimiDeviceId({}, 'cred-2')).not.toBe(derived);
  });

  it.each([
    ['kimi-k2.5', 'k2.5'],
    ['kimi-k2', 'k2'],
    ['Kimi-K3', 'k3'],
    ['kimi-k2.7-code', 'kimi-for-coding'],
    ['kimi-k2.7-code-highspeed', 'kimi-for-coding-highspeed'],
    ['kimi-k2.6[1m]', 'k2.6'],
    ['kimi-for-coding', 'kimi-for-coding'],
    ['k2.5', 'k2.5'],
  ])('%s goes upstream as %s', (listed, upstream) => {
    expect(kimiUpstreamModel(listed)).toBe(upstream);
  });
});

describe('kimiAdapter', () => {
  const secret = { accessToken: 'kimi-token', refreshToken: 'r', deviceId: 'dev-1' };

  it('calls {KIMI_BASE_URL|https://api.kimi.com/coding}/v1/chat/completions with the access token and the device id of the login', () => {
    const target = kimiAdapter.target(call({ secret }), true);
    expect(target.url).toBe('https://api.kimi.com/coding/v1/chat/completions');
    expect(target.headers).toMatchObject({
      authorization: 'Bearer kimi-token',
      'x-msh-device-id': 'dev-1',
      'user-agent': 'KimiCLI/1.10.6',
      accept: 'text/event-stream',
    });
    vi.stubEnv('KIMI_BASE_URL', 'http://127.0.0.1:9/coding');
    expect(kimiAdapter.target(call({ secret }), false).url).toBe('http://127.0.0.1:9/coding/v1/chat/completions');
  });

  it("renames the model to Kimi's id and asks for usage on streams", () => {
    expect(parse(kimiAdapter.prepareBody!(call({ secret }), chatBody(), false))).toMatchObject({ model: 'k2.5' });
    expect(parse(kimiAdapter.prepareBody!(call({ secret }), chatBody({ stream: true }), true))).toMatchObject({
      model: 'k2.5',
      stream_options: { include_usage: true },
    });
  });
});

describe('what the upstreams accept and refuse (mock upstreams recompute the checks)', () => {
  let kimi: ChatSubscriptionMock;
  let iflow: ChatSubscriptionMock;
  const live = new Map([
    ['kimi-token', 'dev-1'],
    ['kimi-other-device', 'dev-2'],
  ]);

  beforeAll(async () => {
    kimi = await startKimiMock({
      verifyToken: (t) => (live.has(t) ? 'valid' : t === 'kimi-expired' ? 'expired' : 'unknown'),
      deviceIdOf: (t) => live.get(t),
    });
    iflow = await startIFlowMock({ apiKeys: ['sk-iflow'] });
  });
  afterAll(async () => {
    await kimi.close();
    await iflow.close();
  });

  async function send(
    target: UpstreamTarget,
    body: UpstreamBody,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: joinedBody(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  function iflowRequest(secret: Record<string, unknown>, tamper: (headers: Record<string, string>) => void = () => {}) {
    const c = call({ secret, baseUrl: iflow.baseUrl, upstreamModel: 'qwen3-coder-plus' });
    const target = iflowAdapter.target(c, false);
    tamper(target.headers);
    return send(target, iflowAdapter.prepareBody!(c, chatBody({ model: 'qwen3-coder-plus' }), false));
  }

  function kimiRequest(secret: Record<string, unknown>, tamper: (headers: Record<string, string>) => void = () => {}) {
    const c = call({ secret, baseUrl: kimi.baseUrl });
    const target = kimiAdapter.target(c, false);
    tamper(target.headers);
    return send(target, kimiAdapter.prepareBody!(c, chatBody(), false));
  }

  it('iFlow answers a signed request with the API key', async () => {
    const { status, json } = await iflowRequest({ apiKey: 'sk-iflow', accessToken: 'iflow-access' });
    expect(status).toBe(200);
    expect(json).toMatchObject({
      object: 'chat.completion',
      model: 'qwen3-coder-plus',
      choices: [{ message: { content: 'echo: hello mock' } }],
    });
  });

  it.each<[string, Record<string, unknown>, (h: Record<string, string>) => void, number, string]>([
    ['the access token instead of the key', { apiKey: 'iflow-access' }, () => {}, 401, 'Invalid API key'],
    [
      'a signature made with another key',
      { apiKey: 'sk-iflow' },
      (h) =>
        (h['x-iflow-signature'] = iflowSignature(
          'iFlow-Cli',
          h['session-id'],
          Number(h['x-iflow-timestamp']),
          'sk-other',
        )),
      401,
      'signature verification failed',
    ],
    [
      'a signature over another session',
      { apiKey: 'sk-iflow' },
      (h) => (h['session-id'] = 'session-00000000-0000-4000-8000-000000000000'),
      401,
      'signature verification failed',
    ],
    [
      'a stale timestamp, correctly signed',
      { apiKey: 'sk-iflow' },
      (h) => {
        const stale = Date.now() - 10 * 60_000;
        h['x-iflow-timestamp'] = String(stale);
        h['x-iflow-signature'] = iflowSignature('iFlow-Cli', h['session-id'], stale, 'sk-iflow');
      },
      401,
      'request timestamp expired',
    ],
    [
      'no signature',
      { apiKey: 'sk-iflow' },
      (h) => delete h['x-iflow-signature'],
      401,
      'signature verification failed',
    ],
    ['another client', { apiKey: 'sk-iflow' }, (h) => (h['user-agent'] = 'curl/8'), 403, 'client not allowed'],
  ])('iFlow refuses %s', async (_what, secret, tamper, status, message) => {
    const res = await iflowRequest(secret, tamper);
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error: { message } });
  });

  it('Kimi answers the access token with the device headers of its login', async () => {
    const { status, json } = await kimiRequest({ accessToken: 'kimi-token', deviceId: 'dev-1' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model: 'k2.5', choices: [{ message: { content: 'echo: hello mock' } }] });
  });

  it.each<[string, Record<string, unknown>, (h: Record<string, string>) => void, number, string]>([
    [
      'an expired token',
      { accessToken: 'kimi-expired', deviceId: 'dev-1' },
      () => {},
      401,
      'The access token has expired',
    ],
    [
      'the device of another login',
      { accessToken: 'kimi-token', deviceId: 'dev-2' },
      () => {},
      401,
      'device does not match the login',
    ],
    [
      'a missing device id',
      { accessToken: 'kimi-token', deviceId: 'dev-1' },
      (h) => delete h['x-msh-device-id'],
      400,
      'missing x-msh-device-id header',
    ],
    [
      'a missing device model',
      { accessToken: 'kimi-token', deviceId: 'dev-1' },
      (h) => delete h['x-msh-device-model'],
      400,
      'missing x-msh-device-model header',
    ],
    [
      'another platform',
      { accessToken: 'kimi-token', deviceId: 'dev-1' },
      (h) => (h['x-msh-platform'] = 'web'),
      400,
      'invalid X-Msh-Platform header',
    ],
    [
      'another client',
      { accessToken: 'kimi-token', deviceId: 'dev-1' },
      (h) => (h['user-agent'] = 'curl/8'),
      403,
      'Kimi For Coding is only available for Coding Agents',
    ],
  ])('Kimi refuses %s', async (_what, secret, tamper, status, message) => {
    const res = await kimiRequest(secret, tamper);
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error: { message } });
  });

  it('Kimi refuses the listed name it does not know (the kimi- prefix must go)', async () => {
    const c = call({ secret: { accessToken: 'kimi-token', deviceId: 'dev-1' }, baseUrl: kimi.baseUrl });
    const res = await send(kimiAdapter.target(c, false), chatBody({ model: 'kimi-k2.5' }));
    expect(res.status).toBe(404);
  });
});
