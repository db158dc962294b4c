import { describe, expect, it } from 'vitest';
import { clientErrorBody, errorShapeForStatus } from './client-errors';
import { executorQueue, Patterns, queueOf } from './messages';

describe('errorShapeForStatus', () => {
  it.each([
    [401, 'authentication_error', 'invalid_api_key'],
    [403, 'permission_error', 'insufficient_quota'],
    [429, 'rate_limit_error', 'rate_limit_exceeded'],
    [404, 'invalid_request_error', 'model_not_found'],
    [500, 'server_error', 'internal_server_error'],
    [503, 'server_error', 'internal_server_error'],
  ])('maps %i to %s/%s as CLIProxyAPI does', (status, type, code) => {
    expect(errorShapeForStatus(status, 'm')).toEqual({ message: 'm', type, code });
  });
});

describe('clientErrorBody', () => {
  it('speaks the Anthropic error envelope to claude clients', () => {
    expect(clientErrorBody('claude', 413, 'too big')).toEqual({
      type: 'error',
      error: { type: 'request_too_large', message: 'too big' },
    });
  });
  it('speaks the Google error envelope to gemini clients', () => {
    expect(clientErrorBody('gemini', 400, 'bad')).toEqual({
      error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' },
    });
  });
  it('speaks the OpenAI error envelope to openai clients', () => {
    expect(clientErrorBody('openai-chat', 413, 'too big')).toEqual({
      error: { message: 'too big', type: 'invalid_request_error', code: 'request_too_large' },
    });
  });
});

describe('queueOf', () => {
  it('takes the queue from everything before the last dot', () => {
    expect(queueOf(Patterns.dispatch)).toBe('scheduler');
    expect(queueOf(Patterns.execute('openai-compat'))).toBe('executor.openai-compat');
    expect(executorQueue('claude')).toBe('executor.claude');
  });
});
