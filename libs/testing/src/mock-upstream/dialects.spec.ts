import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from './server';
import type { MockUpstream } from './types';

const OAUTH = 'sk-ant-oat01-dialect';
const IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";
const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream();
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

async function post(
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; json: () => unknown; text: string; type: string }> {
  const res = await fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: () => JSON.parse(text) as unknown,
    type: res.headers.get('content-type') ?? '',
  };
}

describe('mock upstream: Claude subscription (OAuth) dialect', () => {
  const headers = {
    authorization: `Bearer ${OAUTH}`,
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'claude-code-20250219,oauth-2025-04-20',
  };
  const message = (over: Record<string, unknown> = {}) => ({
    model: 'claude-sonnet-4-6',
    max_tokens: 50,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.220.abc; cc_entrypoint=cli;' },
      { type: 'text', text: IDENTITY },
    ],
    messages: [{ role: 'user', content: 'hi oauth' }],
    ...over,
  });
  const anthropicError = (type: string) => ({ type: 'error', error: { type, message: expect.any(String) } });

  it("answers a Claude Code-shaped request in Anthropic's JSON and SSE", async () => {
    const res = await post('/v1/messages?beta=true', headers, message());
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'echo: hi oauth' }],
    });
    const stream = await post(
      '/v1/messages?beta=true',
      headers,
      message({ stream: true, system: [{ type: 'text', text: IDENTITY }] }),
    );
    expect(stream.type).toContain('text/event-stream');
    expect(stream.text).toContain('event: message_start');
    expect(stream.text).toContain('event: message_stop');
    const count = await post('/v1/messages/count_tokens?beta=true', headers, {
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'a b c' }],
    });
    expect(count.json()).toEqual({ input_tokens: 3 });
  });

  it('refuses the token as x-api-key', async () => {
    const res = await post(
      '/v1/messages?beta=true',
      { 'x-api-key': OAUTH, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20' },
      message(),
    );
    expect(res.status).toBe(401);
    expect(res.json()).toEqual(anthropicError('authentication_error'));
  });

  it('refuses without the oauth beta flag, without ?beta=true, or on another path', async () => {
    const noBeta = await post(
      '/v1/messages?beta=true',
      { ...headers, 'anthropic-beta': 'claude-code-20250219' },
      message(),
    );
    expect(noBeta.status).toBe(401);
    expect(noBeta.json()).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'OAuth authentication is currently not supported.' },
    });
    const noQuery = await post('/v1/messages', headers, message());
    expect(noQuery.status).toBe(400);
    expect(noQuery.json()).toEqual(anthropicError('invalid_request_error'));
    const wrongPath = await post('/proxy/v1/messages?beta=true', headers, message());
    expect(wrongPath.status).toBe(404);
    expect(wrongPath.json()).toEqual(anthropicError('not_found_error'));
  });

  it("refuses a messages request whose system prompt does not open with Claude Code's identity", async () => {
    for (const system of [
      undefined,
      "You are Claude Code, Anthropic's official CLI for Claude.",
      [
        { type: 'text', text: 'Be a pirate.' },
        { type: 'text', text: IDENTITY },
      ],
    ]) {
      const res = await post('/v1/messages?beta=true', headers, message({ system }));
      expect(res.status).toBe(400);
      expect(res.json()).toEqual({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: expect.stringContaining('only authorized for use with Claude Code'),
        },
      });
    }
  });

  it('leaves API-key requests to the ordinary rules', async () => {
    const res = await post(
      '/v1/messages',
      { 'x-api-key': 'sk-ant-api-1', 'anthropic-version': '2023-06-01' },
      { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'plain' }] },
    );
    expect(res.status).toBe(200);
  });
});

describe('mock upstream: ChatGPT Codex backend', () => {
  const PATH = '/backend-api/codex/responses';
  const token = jwt({
    exp: Math.floor(Date.now() / 1000) + 3600,
    'https://api.openai.com/auth': { chatgpt_account_id: 'acc-1' },
  });
  const headers = { authorization: `Bearer ${token}`, 'chatgpt-account-id': 'acc-1' };
  const body = (over: Record<string, unknown> = {}) => ({
    model: 'gpt-5',
    instructions: '',
    stream: true,
    store: false,
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi codex' }] }],
    ...over,
  });

  it('answers a valid request with Responses SSE events', async () => {
    const res = await post(PATH, headers, body());
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/event-stream');
    const events = res.text
      .split('\n\n')
      .filter(Boolean)
      .map((frame) => /^event: (\S+)/.exec(frame)?.[1]);
    expect(events[0]).toBe('response.created');
    expect(events.at(-1)).toBe('response.completed');
    expect(res.text).toContain('echo: hi codex');
  });

  it.each([
    ['no token', { 'chatgpt-account-id': 'acc-1' }, body(), 401, 'Unauthorized'],
    ['no account id', { authorization: `Bearer ${token}` }, body(), 400, 'Missing chatgpt-account-id header'],
    [
      'another account',
      { ...headers, 'chatgpt-account-id': 'acc-2' },
      body(),
      400,
      'chatgpt-account-id does not match the authenticated account',
    ],
    ['no stream', headers, body({ stream: false }), 400, 'Stream must be set to true'],
    ['stored', headers, body({ store: true }), 400, 'Store must be set to false'],
    ['store missing', headers, body({ store: undefined }), 400, 'Store must be set to false'],
    ['temperature', headers, body({ temperature: 0.2 }), 400, 'Unsupported parameter: temperature'],
    ['max_output_tokens', headers, body({ max_output_tokens: 10 }), 400, 'Unsupported parameter: max_output_tokens'],
    ['no instructions', headers, body({ instructions: undefined }), 400, 'Instructions are required'],
  ])('refuses %s with {"detail": ...}', async (_name, h, b, status, detail) => {
    const res = await post(PATH, h as Record<string, string>, b);
    expect(res.status).toBe(status);
    expect(res.json()).toEqual({ detail });
  });

  it('refuses an expired token', async () => {
    const expired = jwt({
      exp: Math.floor(Date.now() / 1000) - 10,
      'https://api.openai.com/auth': { chatgpt_account_id: 'acc-1' },
    });
    const res = await post(PATH, { ...headers, authorization: `Bearer ${expired}` }, body());
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ detail: expect.stringContaining('expired') });
  });

  it('accepts an opaque token with any account id', async () => {
    expect((await post(PATH, { authorization: 'Bearer opaque', 'chatgpt-account-id': 'acc-x' }, body())).status).toBe(
      200,
    );
  });
});
