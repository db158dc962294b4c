import { afterEach, describe, expect, it } from 'vitest';
import { RouteActions, type RouteRequest } from '@cpa/contracts';
import { unsignedJwt } from '@cpa/testing';
import { parseJsonObject, type UpstreamCall } from '../provider-adapter';
import { claudeAdapter, isAnthropicApi } from './claude';
import { CLAUDE_CODE, CLAUDE_DEFAULT_BETAS, CODEX_CLI } from './client-profiles';
import { codexAdapter } from './codex';

const route = (over: Partial<RouteRequest> = {}): RouteRequest => ({
  requestId: 'r',
  clientFormat: 'claude',
  model: 'm',
  stream: false,
  sessionIds: [],
  headers: {},
  deadline: 0,
  ...over,
});
const call = (over: Partial<UpstreamCall> = {}): UpstreamCall => ({
  route: route(),
  format: 'claude',
  upstreamModel: 'm',
  kind: 'oauth',
  baseUrl: '',
  headers: {},
  secret: { accessToken: 'sk-ant-oat01-x' },
  credentialId: 'cred-1',
  ...over,
});
const json = parseJsonObject;

afterEach(() => {
  delete process.env.CLAUDE_BASE_URL;
  delete process.env.CODEX_BASE_URL;
});

describe('claude adapter, API keys', () => {
  it("x-api-key only on Anthropic's own API, Bearer elsewhere (CLIProxyAPI's rule)", () => {
    const key = { kind: 'api_key' as const, secret: { apiKey: 'sk-ant-api-1' } };
    expect(claudeAdapter.target(call(key), false).headers).toMatchObject({ 'x-api-key': 'sk-ant-api-1' });
    const gateway = claudeAdapter.target(call({ ...key, baseUrl: 'https://gateway.example/anthropic' }), false);
    expect(gateway.url).toBe('https://gateway.example/anthropic/v1/messages');
    expect(gateway.headers.authorization).toBe('Bearer sk-ant-api-1');
    expect(gateway.headers['x-api-key']).toBeUndefined();
    expect(isAnthropicApi('https://api.anthropic.com:443')).toBe(true);
    expect(isAnthropicApi('http://api.anthropic.com')).toBe(false);
    expect(isAnthropicApi('https://api.anthropic.com:8443')).toBe(false);
    expect(isAnthropicApi('https://u:p@api.anthropic.com')).toBe(false);
  });
  it('leaves the body of API-key requests untouched (same buffer)', () => {
    const body = Buffer.from('{"model":"m","system":"x","betas":["b"]}');
    const target = claudeAdapter.target(call({ kind: 'api_key', secret: { apiKey: 'k' } }), false);
    expect(claudeAdapter.prepareBody!(call({ kind: 'api_key', secret: { apiKey: 'k' } }), body, false, target)).toBe(
      body,
    );
  });
});

describe('claude adapter, subscription (OAuth)', () => {
  it('beta Messages endpoint, Bearer, Claude Code identity headers', () => {
    const target = claudeAdapter.target(call(), true);
    expect(target.url).toBe('https://api.anthropic.com/v1/messages?beta=true');
    expect(target.headers).toMatchObject({
      authorization: 'Bearer sk-ant-oat01-x',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': CLAUDE_DEFAULT_BETAS.join(','),
      'x-app': 'cli',
      'user-agent': CLAUDE_CODE.userAgent,
      'x-stainless-lang': 'js',
      'x-stainless-package-version': '0.94.0',
      'x-stainless-timeout': '600',
      accept: 'text/event-stream',
      'accept-encoding': 'identity',
    });
    expect(target.headers['x-api-key']).toBeUndefined();
    expect(target.headers['x-client-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(claudeAdapter.target(call(), true).headers['x-client-request-id']).not.toBe(
      target.headers['x-client-request-id'],
    );
    // One session id per credential, whatever the request.
    expect(claudeAdapter.target(call(), false).headers['x-claude-code-session-id']).toBe(
      target.headers['x-claude-code-session-id'],
    );
    expect(claudeAdapter.target(call({ credentialId: 'cred-2' }), false).headers['x-claude-code-session-id']).not.toBe(
      target.headers['x-claude-code-session-id'],
    );
  });
  it('count_tokens: its own path and beta profile, no timeout header', () => {
    const target = claudeAdapter.target(
      call({ route: route({ action: RouteActions.countTokens }), baseUrl: 'http://up' }),
      false,
    );
    expect(target.url).toBe('http://up/v1/messages/count_tokens?beta=true');
    expect(target.headers['anthropic-beta']).toContain('token-counting-2024-11-01');
    expect(target.headers['x-stainless-timeout']).toBeUndefined();
  });
  it('CLAUDE_BASE_URL wins over the credential base URL', () => {
    process.env.CLAUDE_BASE_URL = 'http://env-base';
    expect(claudeAdapter.target(call({ baseUrl: 'http://cred-base' }), false).url).toBe(
      'http://env-base/v1/messages?beta=true',
    );
  });
  it('cloaks other clients and moves body betas into the header', () => {
    const c = call({
      route: route({ headers: { 'user-agent': 'Anthropic/JS 0.60.0', 'anthropic-beta': 'tools-2024-04-04' } }),
    });
    const target = claudeAdapter.target(c, false);
    const out = json(
      claudeAdapter.prepareBody!(
        c,
        Buffer.from(
          JSON.stringify({
            model: 'm',
            max_tokens: 5,
            betas: ['files-api-2025-04-14'],
            system: 'sys',
            messages: [{ role: 'user', content: 'hi' }],
          }),
        ),
        false,
        target,
      ),
    );
    expect(out.betas).toBeUndefined();
    expect(target.headers['anthropic-beta']).toBe(
      'oauth-2025-04-20,tools-2024-04-04,interleaved-thinking-2025-05-14,files-api-2025-04-14',
    );
    expect((out.system as Array<{ text: string }>)[1].text).toBe(CLAUDE_CODE.identity);
    expect((out.metadata as { user_id: string }).user_id).toMatch(/^user_[0-9a-f]{64}_account_/);
  });
  it('passes Claude Code through: its body unchanged, its own user agent and session id', () => {
    const headers = {
      'user-agent': 'claude-cli/2.0.1 (external, cli)',
      'x-claude-code-session-id': 'cc-session',
      'anthropic-beta': 'claude-code-20250219',
    };
    const c = call({ route: route({ headers }) });
    const target = claudeAdapter.target(c, false);
    const body = Buffer.from('{"model":"m","system":"custom","messages":[]}');
    expect(claudeAdapter.prepareBody!(c, body, false, target)).toBe(body);
    expect(target.headers).toMatchObject({
      'user-agent': headers['user-agent'],
      'x-claude-code-session-id': 'cc-session',
      'anthropic-beta': 'claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14',
    });
  });
});

describe('codex adapter', () => {
  const idToken = unsignedJwt({ 'https://api.openai.com/auth': { chatgpt_account_id: 'acc-9' } });
  const codexCall = (over: Partial<UpstreamCall> = {}) =>
    call({
      format: 'openai-responses',
      route: route({ clientFormat: 'openai-responses' }),
      secret: { accessToken: 'at', idToken },
      ...over,
    });

  it('API keys keep calling api.openai.com/v1/responses with the body as it is', () => {
    const c = codexCall({ kind: 'api_key', secret: { apiKey: 'sk-1' } });
    const target = codexAdapter.target(c, true);
    expect(target).toEqual({
      url: 'https://api.openai.com/v1/responses',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-1' },
    });
    const body = Buffer.from('{"model":"gpt-5","temperature":1}');
    expect(codexAdapter.prepareBody!(c, body, true, target)).toBe(body);
  });
  it('ChatGPT logins: backend URL, account id, Codex CLI identity, client headers passed', () => {
    const target = codexAdapter.target(
      codexCall({
        route: route({
          headers: { version: '0.146.0', 'x-codex-turn-metadata': '{"turn_id":"t"}', 'user-agent': 'OpenAI/JS 5' },
        }),
      }),
      true,
    );
    expect(target.url).toBe('https://chatgpt.com/backend-api/codex/responses');
    expect(target.headers).toMatchObject({
      authorization: 'Bearer at',
      'chatgpt-account-id': 'acc-9',
      originator: CODEX_CLI.originator,
      'user-agent': CODEX_CLI.userAgent,
      accept: 'text/event-stream',
      version: '0.146.0',
      'x-codex-turn-metadata': '{"turn_id":"t"}',
    });
    const own = codexAdapter.target(
      codexCall({ route: route({ headers: { originator: 'codex_exec', 'user-agent': 'codex_exec/0.1' } }) }),
      true,
    );
    expect(own.headers).toMatchObject({ originator: 'codex_exec', 'user-agent': 'codex_exec/0.1' });
    process.env.CODEX_BASE_URL = 'http://mock/backend-api/codex';
    expect(codexAdapter.target(codexCall({ baseUrl: 'http://ignored' }), true).url).toBe(
      'http://mock/backend-api/codex/responses',
    );
  });
  it('refuses a login without an account id, naming no secret', () => {
    expect(() => codexAdapter.target(codexCall({ secret: { accessToken: 'secret-token' } }), true)).toThrow(
      /no ChatGPT account id/,
    );
    expect(() => codexAdapter.target(codexCall({ secret: { accessToken: 'secret-token' } }), true)).not.toThrow(
      /secret-token/,
    );
  });
  it('applies the body rules and sends the cache key as Session_id', () => {
    const c = codexCall();
    const target = codexAdapter.target(c, true);
    const out = json(
      codexAdapter.prepareBody!(
        c,
        Buffer.from('{"model":"gpt-5","input":"hi","prompt_cache_key":"pk","max_output_tokens":9}'),
        true,
        target,
      ),
    );
    expect(out).toMatchObject({ stream: true, store: false, prompt_cache_key: 'pk', instructions: '' });
    expect(out.max_output_tokens).toBeUndefined();
    expect(target.headers.session_id).toBe('pk');
  });
  it('counts a model-capacity error as 429', () => {
    expect(
      codexAdapter.failureStatus!(
        500,
        '{"error":{"message":"Selected model is at capacity. Please try a different model."}}',
      ),
    ).toBe(429);
    expect(codexAdapter.failureStatus!(400, '{"detail":"Store must be set to false"}')).toBe(400);
  });
});
