/**
 * Logs of the running stack: JSON lines from every service, one request id per client
 * request (the caller's or a new one) answered as `x-request-id` and carried by every line
 * the gateway, scheduler and executor write about it; no key or token in any line, wherever
 * it was sent; and CLIProxyAPI's request error logs with the failed upstream exchange.
 */
import { describe, expect, it } from 'vitest';
import { TOKEN_FILE_SAMPLES } from '@cpa/testing';
import { CLIENT_KEY, MANAGEMENT_SECRET, useStack } from './stack-fixture';

const UPSTREAM_KEYS = {
  claude: 'sk-ant-logs-upstream-0001',
  openai: 'sk-logs-upstream-openai-0002',
  gemini: 'AIza-logs-upstream-gemini-0003',
  /** Serves only `logs-failing`, the model the error-log test makes fail. */
  failing: 'sk-logs-upstream-failing-0006',
};
const CLAUDE_FILE = 'claude-user@example.com.json';
const CLAUDE_TOKENS = TOKEN_FILE_SAMPLES[CLAUDE_FILE];
/** A key no one configured: refused, and must not be logged either. */
const WRONG_KEY = 'sk-wrong-guess-logs-0004';
const WRONG_MANAGEMENT = 'mgmt-wrong-guess-logs-0005';
const SECRETS = [
  CLIENT_KEY,
  MANAGEMENT_SECRET,
  WRONG_KEY,
  WRONG_MANAGEMENT,
  ...Object.values(UPSTREAM_KEYS),
  CLAUDE_TOKENS.access_token,
  CLAUDE_TOKENS.refresh_token,
];

const { mock, stack, management } = useStack({
  config: (upstream) => ({
    'claude-api-key': [
      {
        'api-key': UPSTREAM_KEYS.claude,
        'base-url': upstream.url,
        models: [{ name: 'claude-sonnet-4-5', alias: 'logs-claude' }],
      },
    ],
    'gemini-api-key': [
      {
        'api-key': UPSTREAM_KEYS.gemini,
        'base-url': upstream.url,
        models: [{ name: 'gemini-2.5-pro', alias: 'logs-gemini' }],
      },
    ],
    'openai-compatibility': [
      {
        name: 'logs',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': UPSTREAM_KEYS.openai }],
        models: [{ name: 'gpt-4o-mini', alias: 'logs-gpt' }],
      },
      {
        name: 'failing',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': UPSTREAM_KEYS.failing }],
        models: [{ name: 'gpt-4o', alias: 'logs-failing' }],
      },
    ],
  }),
  // Every line there is: trace level.
  env: () => ({ LOG_LEVEL: 'trace', CLAUDE_BASE_URL: mock.url, OAUTH_TOKEN_URL_CLAUDE: 'http://127.0.0.1:9/token' }),
  families: ['claude', 'gemini', 'openai-compat'],
});

const chat = (model: string, init: { headers?: Record<string, string>; query?: string; stream?: boolean } = {}) =>
  fetch(`${stack.url}/v1/chat/completions${init.query ?? ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.headers ?? { authorization: `Bearer ${CLIENT_KEY}` }) },
    body: JSON.stringify({ model, stream: init.stream ?? false, messages: [{ role: 'user', content: 'hi' }] }),
  });

/** The service lines as parsed records (READY lines and the supervisor's own are not the services' logs). */
function records(): { service: string; record: Record<string, unknown> }[] {
  return stack.logs
    .map((line) => ({ service: line.slice(0, line.indexOf(' ')), text: line.slice(line.indexOf(' ') + 1) }))
    .filter(({ text }) => !text.startsWith('READY '))
    .map(({ service, text }) => ({ service, record: JSON.parse(text) as Record<string, unknown> }));
}

async function linesAbout(requestId: string, services: string[]): Promise<Record<string, unknown>[]> {
  // Lines of other processes arrive through their pipes a moment after the answer.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const about = records().filter((r) => r.record.request_id === requestId);
    const seen = new Set(about.map((r) => r.service));
    if (services.every((s) => seen.has(s)) || Date.now() > deadline) return about.map((r) => r.record);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('structured logs', () => {
  it('every service line is a JSON record with service, level and time', async () => {
    expect((await chat('logs-gpt')).status).toBe(200);
    const all = records();
    expect(new Set(all.map((r) => r.service))).toEqual(
      new Set([
        'admin',
        'gateway',
        'scheduler',
        'executor-claude',
        'executor-gemini',
        'executor-openai-compat',
        'refresh-worker',
      ]),
    );
    for (const { service, record } of all) {
      expect(record.service, JSON.stringify(record)).toBe(service);
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(record.level);
      expect(Number.isNaN(Date.parse(String(record.time)))).toBe(false);
    }
  });

  it("keeps the caller's request id, answers it, and every service's lines about the request carry it", async () => {
    const res = await chat('logs-gpt', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'logs-e2e-ok-1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('logs-e2e-ok-1');
    const about = await linesAbout('logs-e2e-ok-1', ['gateway', 'scheduler', 'executor-openai-compat']);
    expect(new Set(about.map((r) => r.service))).toEqual(new Set(['gateway', 'scheduler', 'executor-openai-compat']));
    expect(about.find((r) => r.service === 'gateway' && r.msg === 'POST /v1/chat/completions 200')).toBeDefined();
  });

  it('makes an id when there is none (or an unusable one) and answers it on streams and errors too', async () => {
    const streamed = await chat('logs-gpt', { stream: true });
    expect(streamed.status).toBe(200);
    const streamId = streamed.headers.get('x-request-id');
    expect(streamId).toMatch(/^[0-9a-f-]{36}$/);
    await streamed.text();
    expect(
      new Set((await linesAbout(streamId!, ['gateway', 'scheduler', 'executor-openai-compat'])).map((r) => r.service)),
    ).toEqual(new Set(['gateway', 'scheduler', 'executor-openai-compat']));

    const bad = await chat('logs-gpt', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'not a usable id' },
    });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await bad.text();

    const refused = await chat('logs-gpt', { headers: { 'x-request-id': 'logs-e2e-401' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('logs-e2e-401');
    const unknown = await chat('no-such-model', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'logs-e2e-unknown-model' },
    });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.headers.get('x-request-id')).toBe('logs-e2e-unknown-model');
    const models = await fetch(`${stack.url}/v1/models`, {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'logs-e2e-models' },
    });
    expect(models.headers.get('x-request-id')).toBe('logs-e2e-models');
    const viaGateway = await management('/config', { headers: { 'x-request-id': 'logs-e2e-mgmt' } });
    expect(viaGateway.status).toBe(200);
    expect(viaGateway.headers.get('x-request-id')).toBe('logs-e2e-mgmt');
    // The admin logs the management request under the gateway's id.
    expect((await linesAbout('logs-e2e-mgmt', ['admin', 'gateway'])).map((r) => r.service)).toEqual(
      expect.arrayContaining(['admin', 'gateway']),
    );
  });
});

describe('redaction', () => {
  it('no key or token appears in any line, wherever it was sent', async () => {
    // An OAuth login (its tokens go upstream as a Bearer token), uploaded through the management API.
    const upload = await fetch(`${stack.url}/v0/management/auth-files?name=${CLAUDE_FILE}`, {
      method: 'POST',
      headers: { 'x-management-key': MANAGEMENT_SECRET, 'content-type': 'application/json' },
      body: JSON.stringify(CLAUDE_TOKENS),
    });
    expect(upload.status).toBe(200);
    const oauthModel = 'claude-haiku-4-5-20251001';
    let oauth: Response | undefined;
    for (let i = 0; i < 50 && oauth?.status !== 200; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      oauth = await fetch(`${stack.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: oauthModel, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
    }
    expect(oauth!.status).toBe(200);
    expect(mock.requests.some((r) => String(r.headers.authorization ?? '').includes(CLAUDE_TOKENS.access_token))).toBe(
      true,
    );

    const gemini = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${stack.url}/v1beta/models/logs-gemini:generateContent${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
      });
    // Client keys in every accepted place, and wrong guesses in each.
    const answers = await Promise.all([
      chat('logs-claude'),
      chat('logs-gpt', { headers: { 'x-api-key': CLIENT_KEY } }),
      gemini('', { 'x-goog-api-key': CLIENT_KEY }),
      gemini(`?key=${CLIENT_KEY}`),
      chat('logs-gpt', { headers: {}, query: `?auth_token=${CLIENT_KEY}` }),
      chat('logs-gpt', { headers: { authorization: `Bearer ${WRONG_KEY}` } }),
      gemini(`?key=${WRONG_KEY}`),
      chat('logs-gpt', { headers: { cookie: `session=${CLIENT_KEY}`, authorization: `Bearer ${CLIENT_KEY}` } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 401, 401, 200]);
    // The management secret as Bearer and as X-Management-Key, right and wrong.
    expect(
      (await fetch(`${stack.url}/v0/management/config`, { headers: { authorization: `Bearer ${MANAGEMENT_SECRET}` } }))
        .status,
    ).toBe(200);
    expect(
      (await fetch(`${stack.url}/v0/management/config`, { headers: { 'x-management-key': MANAGEMENT_SECRET } })).status,
    ).toBe(200);
    expect(
      (await fetch(`${stack.adminUrl}/v0/management/config`, { headers: { 'x-management-key': WRONG_MANAGEMENT } }))
        .status,
    ).toBe(401);
    // An upstream that refuses: its error exchange is logged, keys included in what it echoes.
    mock.setBehavior(UPSTREAM_KEYS.openai, {
      status: 401,
      body: {
        error: { message: `Incorrect API key provided: ${UPSTREAM_KEYS.openai}`, type: 'invalid_request_error' },
      },
    });
    expect((await chat('logs-gpt')).status).toBe(401);

    await new Promise((r) => setTimeout(r, 500));
    const leaks = stack.logs.filter((line) => SECRETS.some((secret) => line.includes(secret)));
    expect(leaks.slice(0, 3)).toEqual([]);
    // The requests were logged, with the key parameters' values replaced.
    expect(stack.logs.some((line) => line.includes('?key=[Redacted]'))).toBe(true);
    expect(stack.logs.some((line) => line.includes('auth_token=[Redacted]'))).toBe(true);
  });
});

describe('request error logs', () => {
  it('a failed upstream request is listed with its request id and exchange, without secrets', async () => {
    mock.setBehavior(UPSTREAM_KEYS.failing, {
      status: 500,
      body: { error: { message: `upstream exploded for key ${UPSTREAM_KEYS.failing}`, type: 'server_error' } },
    });
    const failed = await chat('logs-failing', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'logs-e2e-fail-1' },
    });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await failed.text();

    let files: { name: string; size: number; modified: number; request_id: string; status: number; model: string }[] =
      [];
    for (let i = 0; i < 50 && !files.some((f) => f.request_id === 'logs-e2e-fail-1'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      const listing = await management('/request-error-logs');
      expect(listing.status).toBe(200);
      files = ((await listing.json()) as { files: typeof files }).files;
    }
    const file = files.find((f) => f.request_id === 'logs-e2e-fail-1');
    expect(file).toMatchObject({ status: 500, model: 'logs-failing' });
    expect(file!.name).toMatch(/^error-v1-chat-completions-\d{4}-\d{2}-\d{2}T\d{6}-logs-e2e-fail-1\.log$/);
    expect(file!.size).toBeGreaterThan(0);
    expect(Math.abs(file!.modified - Date.now() / 1000)).toBeLessThan(300);

    const download = await management(`/request-error-logs/${file!.name}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toContain(file!.name);
    const text = await download.text();
    expect(text).toContain('=== REQUEST INFO ===');
    expect(text).toContain('Request ID: logs-e2e-fail-1');
    expect(text).toMatch(/=== API REQUEST 1 ===[\s\S]*POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    expect(text).toContain('authorization: [Redacted]');
    expect(text).toContain('upstream exploded for key [Redacted]');
    expect(text).toMatch(/=== API RESPONSE 1 ===\nStatus: 500/);
    expect(Buffer.byteLength(text)).toBe(file!.size);
    for (const secret of SECRETS) expect(text).not.toContain(secret);

    const json = await management('/request-log-by-id/logs-e2e-fail-1?format=json');
    const view = (await json.json()) as {
      request_id: string;
      attempts: {
        status: number;
        upstream_request: { headers: Record<string, string>; body: string };
        upstream_response: { status: number };
      }[];
    };
    expect(view.request_id).toBe('logs-e2e-fail-1');
    expect(view.attempts[0]).toMatchObject({
      status: 500,
      upstream_request: { headers: { authorization: '[Redacted]' } },
      upstream_response: { status: 500 },
    });
    expect(view.attempts[0]!.upstream_request.body).toContain('"messages"');
    expect(JSON.stringify(view)).not.toContain(UPSTREAM_KEYS.failing);

    // Served by the admin itself too (any admin replica reads the same Redis list).
    const direct = await fetch(`${stack.adminUrl}/v0/management/request-error-logs`, {
      headers: { 'x-management-key': MANAGEMENT_SECRET },
    });
    expect(((await direct.json()) as { files: { name: string }[] }).files.map((f) => f.name)).toContain(file!.name);
    expect((await management('/request-error-logs/error-v1-2026-01-01T000000-nothing.log')).status).toBe(404);
    expect((await management('/request-error-logs/..%2Fetc%2Fpasswd')).status).toBe(404);
  });
});
