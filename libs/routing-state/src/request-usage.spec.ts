import { describe, expect, it } from 'vitest';
import type { AttemptResult, RouteRequest } from '@cpa/contracts';
import { recordOfReply, recordOfResult } from './request-usage';

const result = (over: Partial<AttemptResult> = {}): AttemptResult => ({
  credentialId: 'cred',
  family: 'codex',
  baseModel: 'gpt-5',
  clientKeyId: 'key',
  ok: true,
  status: 200,
  usage: { inputTokens: 12, outputTokens: 34, cachedTokens: 5, reasoningTokens: 6 },
  request: {
    requestId: 'req',
    model: 'team/gpt-5(high)',
    attempts: 3,
    receivedAt: 1_000,
    firstByteAt: 1_120,
    finishedAt: 1_900,
  },
  ...over,
});

describe('recordOfResult', () => {
  it('records the request the answering attempt belongs to: client model, attempts, tokens, latency and ttfb from the gateway receipt', () => {
    expect(recordOfResult(result(), 'k1')).toEqual({
      key: 'k1',
      requestId: 'req',
      at: 1_000,
      clientKeyId: 'key',
      credentialId: 'cred',
      family: 'codex',
      model: 'team/gpt-5(high)',
      status: 200,
      latencyMs: 900,
      ttfbMs: 120,
      inputTokens: 12,
      outputTokens: 34,
      cachedTokens: 5,
      reasoningTokens: 6,
      attempts: 3,
    });
  });

  it('has no ttfb for answers that were not streamed, zero tokens without usage, and no record without the request (older executors)', () => {
    const plain = recordOfResult(
      result({
        usage: undefined,
        request: { requestId: 'r', model: 'm', attempts: 1, receivedAt: 10, finishedAt: 15 },
      }),
    )!;
    expect(plain).toMatchObject({
      ttfbMs: null,
      latencyMs: 5,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      clientKeyId: 'key',
    });
    expect(plain.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(recordOfResult(result({ request: undefined }))).toBeUndefined();
    expect(recordOfResult(result({ clientKeyId: undefined }))!.clientKeyId).toBe('');
  });

  it('clamps a negative clock difference between machines to 0 and falls back to the end time without a receipt', () => {
    expect(
      recordOfResult(
        result({
          request: {
            requestId: 'r',
            model: 'm',
            attempts: 1,
            receivedAt: 2_000,
            firstByteAt: 1_990,
            finishedAt: 1_995,
          },
        }),
      ),
    ).toMatchObject({ latencyMs: 0, ttfbMs: 0 });
    expect(
      recordOfResult(result({ request: { requestId: 'r', model: 'm', attempts: 1, firstByteAt: 5, finishedAt: 9 } })),
    ).toMatchObject({ at: 9, latencyMs: 0, ttfbMs: null });
  });
});

describe('recordOfReply', () => {
  const route: RouteRequest = {
    requestId: 'r9',
    clientFormat: 'claude',
    model: 'claude-x',
    stream: true,
    sessionIds: [],
    clientKeyId: 'k',
    headers: {},
    deadline: 0,
    receivedAt: 500,
  };

  it('records a scheduler answer with the last attempt tried, no tokens and no first byte', () => {
    expect(recordOfReply(route, 429, { credentialId: 'c2', family: 'claude', attempts: 4 }, 800, 'k2')).toEqual({
      key: 'k2',
      requestId: 'r9',
      at: 500,
      clientKeyId: 'k',
      credentialId: 'c2',
      family: 'claude',
      model: 'claude-x',
      status: 429,
      latencyMs: 300,
      ttfbMs: null,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
      attempts: 4,
    });
  });

  it('has no credential and no attempts when none was picked', () => {
    expect(recordOfReply({ ...route, clientKeyId: undefined }, 404, undefined, 600)).toMatchObject({
      credentialId: '',
      family: '',
      attempts: 0,
      clientKeyId: '',
      status: 404,
    });
  });
});
