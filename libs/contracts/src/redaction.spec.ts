import { describe, expect, it } from 'vitest';
import { redactHeaders, redactUrl, scrubSecrets } from './redaction';

describe('redaction', () => {
  it('replaces the values of key-bearing query parameters and keeps the rest', () => {
    expect(redactUrl('/v1beta/models/g:generateContent?key=AIza-secret&alt=sse')).toBe(
      '/v1beta/models/g:generateContent?key=[Redacted]&alt=sse',
    );
    expect(redactUrl('/x?alt=sse&auth_token=tok-1#frag')).toBe('/x?alt=sse&auth_token=[Redacted]#frag');
    expect(redactUrl('/x?API_KEY=a&access_token=b&token=c')).toBe(
      '/x?API_KEY=[Redacted]&access_token=[Redacted]&token=[Redacted]',
    );
    expect(redactUrl('/x?monkey=1&keys=2')).toBe('/x?monkey=1&keys=2');
    expect(redactUrl('/anthropic/callback?code=code-abc&state=st-1&scope=x')).toBe(
      '/anthropic/callback?code=[Redacted]&state=[Redacted]&scope=x',
    );
  });

  it('replaces credential headers, whatever their case, and headers that look like one', () => {
    const out = redactHeaders({
      Authorization: 'Bearer sk-1',
      'x-api-key': 'k',
      'X-Goog-Api-Key': 'g',
      'x-management-key': 'm',
      cookie: 'c',
      'x-iflow-signature': 's',
      'x-session-key': 'sk',
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-multi': ['a', 'b'],
      absent: undefined,
    });
    expect(out).toEqual({
      authorization: '[Redacted]',
      'x-api-key': '[Redacted]',
      'x-goog-api-key': '[Redacted]',
      'x-management-key': '[Redacted]',
      cookie: '[Redacted]',
      'x-iflow-signature': '[Redacted]',
      'x-session-key': '[Redacted]',
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-multi': 'a, b',
    });
  });

  it('scrubs known secret values from text, ignoring values too short to be secrets', () => {
    expect(scrubSecrets('bad key sk-abcdef123 (sk-abcdef123)', ['sk-abcdef123', 'short'])).toBe(
      'bad key [Redacted] ([Redacted])',
    );
    expect(scrubSecrets('a short one', ['short'])).toBe('a short one');
  });
});
