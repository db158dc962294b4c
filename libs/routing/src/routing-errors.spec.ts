import { describe, expect, it } from 'vitest';
import {
  authUnavailableError,
  goJson,
  modelCooldownError,
  modelNotServedError,
  normalizeUpstreamError,
  pickErrorResponse,
  resetTimeText,
  upstreamFailureResponse,
} from './routing-errors';

describe('model_cooldown error', () => {
  it('has the exact Go body, Retry-After and content type', () => {
    const res = modelCooldownError('claude-x', 'claude', 60_000);
    expect(res.status).toBe(429);
    expect(res.headers).toEqual({ 'Content-Type': 'application/json', 'Retry-After': '60' });
    expect(res.body).toBe(
      '{"error":{"code":"model_cooldown","message":"All credentials for model claude-x are cooling down via provider claude","model":"claude-x","provider":"claude","reset_seconds":60,"reset_time":"1m0s"}}',
    );
  });

  it('omits the provider when several providers were eligible', () => {
    const body = JSON.parse(modelCooldownError('m', undefined, 1_000).body);
    expect(body).toEqual({
      error: {
        code: 'model_cooldown',
        message: 'All credentials for model m are cooling down',
        model: 'm',
        reset_seconds: 1,
        reset_time: '1s',
      },
    });
  });

  it('rounds Retry-After up and reset_time to the second', () => {
    const res = modelCooldownError('m', 'p', 1_500);
    expect(res.headers['Retry-After']).toBe('2');
    expect(JSON.parse(res.body).error.reset_time).toBe('2s');
    expect(JSON.parse(modelCooldownError('m', 'p', 1_400).body).error.reset_time).toBe('1s');
  });

  it.each([
    [200, '1s'],
    [0, '0s'],
    [-5, '0s'],
    [30 * 60_000, '30m0s'],
    [12 * 3_600_000, '12h0m0s'],
    [90_400, '1m30s'],
  ])('shows %i ms as %s', (ms, text) => {
    expect(resetTimeText(ms)).toBe(text);
  });

  it('names "requested model" when the model is empty', () => {
    expect(JSON.parse(modelCooldownError('', undefined, 0).body).error.message).toBe(
      'All credentials for model requested model are cooling down',
    );
  });

  it('escapes HTML characters like Go', () => {
    expect(goJson({ m: '<a&b>' })).toBe('{"m":"\\u003ca\\u0026b\\u003e"}');
  });
});

describe('auth_unavailable error', () => {
  it('names providers and model', () => {
    const res = authUnavailableError(['claude', 'gemini'], 'claude-x');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      error: {
        message: 'auth_unavailable: no auth available (providers=claude,gemini, model=claude-x)',
        type: 'server_error',
        code: 'auth_unavailable',
      },
    });
  });

  it('says unknown for missing providers or model', () => {
    expect(JSON.parse(authUnavailableError([], ' ').body).error.message).toBe(
      'auth_unavailable: no auth available (providers=unknown, model=unknown)',
    );
  });

  it('maps pick errors to responses', () => {
    expect(
      pickErrorResponse({ code: 'model_cooldown', model: 'm', provider: 'p', resetInMs: 1 }, ['p'], 'm').status,
    ).toBe(429);
    expect(JSON.parse(pickErrorResponse({ code: 'auth_not_found' }, ['p'], 'm').body).error.code).toBe(
      'auth_not_found',
    );
  });
});

describe('normalizeUpstreamError', () => {
  it('passes JSON bodies through', () => {
    const body = ' {"type":"error","error":{"type":"overloaded_error"}} ';
    expect(normalizeUpstreamError(529, body)).toEqual({
      status: 529,
      headers: { 'Content-Type': 'application/json' },
      body: body.trim(),
    });
  });

  it.each([
    [401, 'authentication_error', 'invalid_api_key'],
    [403, 'permission_error', 'insufficient_quota'],
    [429, 'rate_limit_error', 'rate_limit_exceeded'],
    [404, 'invalid_request_error', 'model_not_found'],
    [502, 'server_error', 'internal_server_error'],
  ])('wraps a plain %i body as {"error":{message,type,code}}', (status, type, code) => {
    expect(JSON.parse(normalizeUpstreamError(status, 'upstream said no').body)).toEqual({
      error: { message: 'upstream said no', type, code },
    });
  });

  it('uses the status text for an empty body and forwards Retry-After', () => {
    const res = normalizeUpstreamError(429, '', { 'retry-after': '7' });
    expect(res.headers['Retry-After']).toBe('7');
    expect(JSON.parse(res.body).error.message).toBe('Too Many Requests');
  });

  it('reports a failure without status as 500', () => {
    expect(normalizeUpstreamError(0, 'connection reset').status).toBe(500);
  });
});

describe('modelNotServedError', () => {
  it('answers 404 model_not_found naming the model', () => {
    expect(modelNotServedError('gpt-x')).toEqual({
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: '{"error":{"message":"The model gpt-x is not served by any configured credential","type":"invalid_request_error","code":"model_not_found"}}',
    });
  });
});

describe('upstreamFailureResponse', () => {
  const body = '{"error":{"message":"slow down"}}';

  it("adds Retry-After to a 429 from the executor's retry hint, rounded up to seconds", () => {
    expect(upstreamFailureResponse({ status: 429, body, headers: {}, retryAfterMs: 1_200 })).toEqual({
      status: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '2' },
      body,
    });
  });

  it("keeps the upstream's own Retry-After, and adds none to other statuses or without a hint", () => {
    expect(
      upstreamFailureResponse({ status: 429, body, headers: { 'Retry-After': '30' }, retryAfterMs: 1_200 }).headers[
        'Retry-After'
      ],
    ).toBe('30');
    expect(
      upstreamFailureResponse({ status: 503, body, headers: {}, retryAfterMs: 5_000 }).headers['Retry-After'],
    ).toBeUndefined();
    expect(
      upstreamFailureResponse({ status: 429, body, headers: {}, retryAfterMs: 0 }).headers['Retry-After'],
    ).toBeUndefined();
  });
});
