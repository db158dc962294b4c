import { describe, expect, it } from 'vitest';
import { streamErrorStatus } from './stream-errors';
import { createStreamRelay } from './stream-relay';

const OVERLOADED = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';

describe('createStreamRelay: what the upstream said first', () => {
  it('knows nothing until an event is complete, even when split across chunks and UTF-8 sequences', () => {
    const relay = createStreamRelay({ client: 'claude', upstream: 'claude', jsonArray: false }, 'm');
    const bytes = Buffer.from(`event: error\ndata: ${OVERLOADED.replace('Overloaded', 'Überlastet')}\n\n`);
    const cut = bytes.indexOf(Buffer.from('Ü')) + 1; // inside the two-byte Ü
    relay.push(bytes.subarray(0, cut));
    expect(relay.firstEvent).toBeUndefined();
    relay.push(bytes.subarray(cut));
    expect(relay.firstEvent).toMatchObject({ type: 'error' });
    expect(relay.failure).toEqual({
      error: { type: 'overloaded_error', message: 'Überlastet' },
      data: OVERLOADED.replace('Overloaded', 'Überlastet'),
    });
  });

  it('ignores events that decode to nothing (Claude ping) when looking for the first one', () => {
    const relay = createStreamRelay({ client: 'openai-chat', upstream: 'claude', jsonArray: false }, 'm');
    expect(relay.push(Buffer.from('event: ping\ndata: {"type":"ping"}\n\n')).length).toBe(0);
    expect(relay.firstEvent).toBeUndefined();
  });

  it('records a later error without changing the first event', () => {
    const relay = createStreamRelay({ client: 'claude', upstream: 'openai-chat', jsonArray: false }, 'm');
    relay.push(
      Buffer.from(
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}\n\n',
      ),
    );
    const out = relay.push(Buffer.from('data: {"error":{"message":"boom","type":"server_error"}}\n\n')).toString();
    expect(relay.firstEvent?.type).not.toBe('error');
    expect(relay.failure?.error.message).toBe('boom');
    expect(out).toContain('event: error');
  });

  it('reads a Gemini error object from a JSON-array stream', () => {
    const relay = createStreamRelay({ client: 'gemini', upstream: 'gemini', jsonArray: true }, 'm');
    relay.push(
      Buffer.from('[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}'),
    );
    expect(relay.failure?.error).toMatchObject({ status: 429, message: 'Resource has been exhausted' });
  });
});

describe('streamErrorStatus', () => {
  it.each([
    [{ type: 'overloaded_error', message: 'Overloaded' }, 529],
    [{ status: 503, type: 'UNAVAILABLE', message: 'The model is overloaded.' }, 503],
    [{ type: 'server_error', message: 'The server is overloaded' }, 503],
    [{ type: 'service_unavailable', message: 'try later' }, 503],
    [{ type: 'rate_limit_error', message: 'slow down' }, 429],
    [{ type: 'requests', message: 'Rate limit reached for gpt-4o' }, 429],
    [{ type: 'RESOURCE_EXHAUSTED', message: 'quota' }, 429],
    [{ type: 'insufficient_quota', message: 'You exceeded your current quota' }, 429],
    [{ type: 'api_error', message: 'Internal server error' }, 502],
    [{ message: 'upstream error' }, 502],
    [{ status: 200, message: 'not an error status' }, 502],
  ])('%j -> %i', (error, status) => {
    expect(streamErrorStatus(error)).toBe(status);
  });
});
