import { describe, expect, it } from 'vitest';
import type { ExecuteRequest } from '@cpa/contracts';
import {
  ERROR_LOG_BODY_LIMIT,
  errorEntry,
  requestErrorLogLimit,
  secretValues,
  truncateBody,
} from './request-error-log';

const req: ExecuteRequest = {
  route: {
    requestId: 'req-1',
    clientFormat: 'openai-chat',
    model: 'client-model',
    stream: true,
    sessionIds: [],
    headers: {},
    deadline: 0,
  },
  credentialId: 'cred-1',
  family: 'openai-compat',
  upstreamModel: 'gpt-x',
  baseModel: 'gpt-x',
  attempt: 2,
  triedCredentialIds: ['cred-0', 'cred-1'],
};

describe('request error log entries', () => {
  it('keep the exchange with credential headers redacted and the secret scrubbed wherever it is echoed', () => {
    const key = 'sk-upstream-secret-1';
    const entry = errorEntry(
      req,
      {
        url: `https://up.example/v1/x?key=${key}&alt=sse`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-goog-api-key': key },
        body: Buffer.from(JSON.stringify({ model: 'gpt-x', note: key })),
        response: {
          status: 401,
          headers: { 'content-type': 'application/json', 'set-cookie': 'sid=1', 'x-request-id': 'up-1' },
          body: `{"error":"bad key ${key}"}`,
        },
      },
      [key],
      new Date('2026-11-30T07:00:00Z'),
    );
    expect(entry).toEqual({
      request_id: 'req-1',
      time: '2026-11-30T07:00:00.000Z',
      client_format: 'openai-chat',
      model: 'client-model',
      stream: true,
      family: 'openai-compat',
      credential_id: 'cred-1',
      attempt: 3,
      status: 401,
      upstream_request: {
        method: 'POST',
        url: 'https://up.example/v1/x?key=[Redacted]&alt=sse',
        headers: { authorization: '[Redacted]', 'content-type': 'application/json', 'x-goog-api-key': '[Redacted]' },
        body: '{"model":"gpt-x","note":"[Redacted]"}',
      },
      upstream_response: {
        status: 401,
        headers: { 'content-type': 'application/json', 'set-cookie': '[Redacted]', 'x-request-id': 'up-1' },
        body: '{"error":"bad key [Redacted]"}',
      },
    });
  });

  it('record a request that got no answer as 502 with the reason', () => {
    const entry = errorEntry(
      req,
      { url: 'http://127.0.0.1:9/v1/x', headers: {}, body: '{}', error: 'upstream request failed: ECONNREFUSED' },
      [],
    );
    expect(entry).toMatchObject({ status: 502, error: 'upstream request failed: ECONNREFUSED' });
    expect(entry.upstream_response).toBeUndefined();
  });

  it('cut long bodies and say how much was left out', () => {
    const long = 'x'.repeat(ERROR_LOG_BODY_LIMIT + 10);
    expect(truncateBody(long)).toBe(`${'x'.repeat(ERROR_LOG_BODY_LIMIT)}\n[truncated: 10 more characters]`);
    expect(truncateBody('short')).toBe('short');
  });

  it('scrub every string value of a secret that is long enough to be one', () => {
    expect(
      secretValues({ apiKey: 'sk-123456789', accessToken: 'at-123456789', expired: false, project: 'p', n: 5 }),
    ).toEqual(['sk-123456789', 'at-123456789']);
  });

  it('keep REQUEST_ERROR_LOG_LIMIT entries, 100 by default', () => {
    expect(requestErrorLogLimit({})).toBe(100);
    expect(requestErrorLogLimit({ REQUEST_ERROR_LOG_LIMIT: '5' })).toBe(5);
    expect(requestErrorLogLimit({ REQUEST_ERROR_LOG_LIMIT: '0' })).toBe(0);
    expect(requestErrorLogLimit({ REQUEST_ERROR_LOG_LIMIT: 'lots' })).toBe(100);
  });
});
