import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashClientKey, hashesEqual, keyPreview } from './client-key';

describe('hashClientKey', () => {
  it('is the SHA-256 hex digest of the UTF-8 key', () => {
    expect(hashClientKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashClientKey('ключ')).toBe(createHash('sha256').update(Buffer.from('ключ', 'utf8')).digest('hex'));
  });

  it('distinguishes keys that differ only in case or whitespace', () => {
    expect(hashClientKey('Key')).not.toBe(hashClientKey('key'));
    expect(hashClientKey('key ')).not.toBe(hashClientKey('key'));
  });
});

describe('hashesEqual', () => {
  it('compares hashes exactly', () => {
    const h = hashClientKey('k');
    expect(hashesEqual(h, hashClientKey('k'))).toBe(true);
    expect(hashesEqual(h, hashClientKey('j'))).toBe(false);
    expect(hashesEqual(h, h.slice(1))).toBe(false);
  });
});

describe('keyPreview', () => {
  it('shows the start and end of long keys only', () => {
    expect(keyPreview('sk-proj-abcdefghijklmnopqrstuvwxyz')).toBe('sk-pro...wxyz');
  });

  it('shows at most a quarter of a short key', () => {
    expect(keyPreview('12345678')).toBe('12...');
    expect(keyPreview('abc')).toBe('...');
  });
});
