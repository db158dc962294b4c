import { describe, expect, it } from 'vitest';
import { acceptRequestId, requestIdFor } from './request-id';

describe('request ids', () => {
  it('keeps a caller id that is short and printable', () => {
    expect(acceptRequestId('req-123_abc.9:x')).toBe('req-123_abc.9:x');
    expect(acceptRequestId(['first-id', 'second'])).toBe('first-id');
    expect(acceptRequestId('a'.repeat(128))).toBe('a'.repeat(128));
  });

  it('refuses ids that could break a log line, a header or a file name', () => {
    for (const bad of [
      '',
      ' lead',
      'has space',
      'quote"d',
      'new\nline',
      '../etc',
      'a/b',
      'a'.repeat(129),
      'é',
      undefined,
      42,
      null,
      {},
    ]) {
      expect(acceptRequestId(bad), String(bad)).toBeUndefined();
    }
  });

  it('makes a new id when the caller has none or a bad one', () => {
    expect(requestIdFor('mine-1')).toBe('mine-1');
    const made = requestIdFor('bad id');
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFor(undefined)).not.toBe(made);
  });
});
