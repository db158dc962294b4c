import { describe, expect, it } from 'vitest';
import { RouteActions, type RouteRequest } from '@cpa/contracts';
import { rewriteRequestBody } from './translation';
import { PROVIDER_ADAPTERS } from './families';
import { parseJsonObject, type UpstreamCall } from './provider-adapter';
import { retryAfterMs } from './retry-hint';
import { streamErrorEvent } from './stream-errors';

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
  kind: 'api_key',
  baseUrl: '',
  headers: {},
  secret: { apiKey: 'sk-1' },
  ...over,
});

describe('provider adapters', () => {
  it('claude: x-api-key for API keys, Bearer for OAuth, default version, client beta passed on', () => {
    const target = PROVIDER_ADAPTERS.claude.target(
      call({ route: route({ headers: { 'anthropic-beta': 'b1', 'user-agent': 'x' } }) }),
      false,
    );
    expect(target.url).toBe('https://api.anthropic.com/v1/messages');
    expect(target.headers).toMatchObject({
      'x-api-key': 'sk-1',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'b1',
    });
    expect(target.headers['user-agent']).toBeUndefined();
    const oauth = PROVIDER_ADAPTERS.claude.target(call({ kind: 'oauth', secret: { accessToken: 'at' } }), false);
    expect(oauth.headers.authorization).toBe('Bearer at');
    expect(oauth.headers['x-api-key']).toBeUndefined();
  });
  it('claude: count_tokens endpoint and configured headers win', () => {
    const target = PROVIDER_ADAPTERS.claude.target(
      call({
        baseUrl: 'http://up/',
        headers: { 'anthropic-version': '2024-01-01' },
        route: route({ action: 'countTokens' }),
      }),
      false,
    );
    expect(target.url).toBe('http://up/v1/messages/count_tokens');
    expect(target.headers['anthropic-version']).toBe('2024-01-01');
  });
  it('openai-compat: base URL includes the version; legacy completions have their own path', () => {
    expect(PROVIDER_ADAPTERS['openai-compat'].target(call({ baseUrl: 'http://up/v1' }), false)).toMatchObject({
      url: 'http://up/v1/chat/completions',
      headers: { authorization: 'Bearer sk-1' },
    });
    expect(
      PROVIDER_ADAPTERS['openai-compat'].target(
        call({
          baseUrl: 'http://up/v1',
          format: 'openai-completions',
          route: route({ clientFormat: 'openai-completions' }),
        }),
        false,
      ).url,
    ).toBe('http://up/v1/completions');
  });
  it('gemini: model and action in the path, SSE for streams, key header', () => {
    const t = PROVIDER_ADAPTERS.gemini.target(call({ upstreamModel: 'gemini-2.5-pro', baseUrl: 'http://g' }), true);
    expect(t.url).toBe('http://g/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse');
    expect(t.headers['x-goog-api-key']).toBe('sk-1');
    expect(PROVIDER_ADAPTERS.gemini.target(call({ upstreamModel: 'g' }), false).url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/g:generateContent',
    );
  });
  it('gemini: a Gemini client that asked for the JSON-array stream gets it from upstream; translated streams use SSE', () => {
    const jsonArrayRoute = route({ clientFormat: 'gemini', action: RouteActions.streamJsonArray });
    expect(
      PROVIDER_ADAPTERS.gemini.target(
        call({ upstreamModel: 'g', baseUrl: 'http://g', format: 'gemini', route: jsonArrayRoute }),
        true,
      ).url,
    ).toBe('http://g/v1beta/models/g:streamGenerateContent');
    expect(
      PROVIDER_ADAPTERS.gemini.target(
        call({
          upstreamModel: 'g',
          baseUrl: 'http://g',
          format: 'gemini',
          route: route({ action: RouteActions.countTokens }),
        }),
        false,
      ).url,
    ).toBe('http://g/v1beta/models/g:countTokens');
  });
  it('codex: Responses endpoint', () => {
    expect(PROVIDER_ADAPTERS.codex.target(call(), false).url).toBe('https://api.openai.com/v1/responses');
  });
  it('refuses a credential without key material', () => {
    expect(() => PROVIDER_ADAPTERS.claude.target(call({ secret: {} }), false)).toThrow(/no API key/);
  });
});

describe('rewriteRequestBody (same-format model swap)', () => {
  it('keeps the exact client bytes when the model does not change', () => {
    const body = Buffer.from('{"model":"m",  "cache_control":{"type":"ephemeral"}}');
    expect(rewriteRequestBody('claude', body, { model: 'm' })).toBe(body);
  });
  it('rewrites only the model when an alias maps to another name', () => {
    const out = parseJsonObject(
      rewriteRequestBody('openai-chat', Buffer.from('{"model":"alias","messages":[1]}'), { model: 'real' }),
    );
    expect(out).toEqual({ model: 'real', messages: [1] });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds, HTTP dates and Google RetryInfo', () => {
    expect(retryAfterMs({ 'retry-after': '7' }, '')).toBe(7000);
    expect(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, '', 4_000)).toBe(6000);
    expect(
      retryAfterMs(
        {},
        '{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}',
      ),
    ).toBe(1500);
    expect(retryAfterMs({}, '{}')).toBeUndefined();
  });
});

describe('streamErrorEvent', () => {
  it('ends a Claude stream with an error event', () => {
    const text = streamErrorEvent('claude', 502, 'broke').toString();
    expect(text).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(text.split('data: ')[1])).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'broke' },
    });
  });
  it('ends an OpenAI chat stream with an error data line', () => {
    expect(JSON.parse(streamErrorEvent('openai-chat', 502, 'broke').toString().slice(6))).toMatchObject({
      error: { message: 'broke' },
    });
  });
});
