import { describe, expect, it } from 'vitest';
import {
  effectiveProxyUrl,
  InvalidProxyUrlError,
  parseProxySetting,
  ProxyUrlSchema,
  redactProxyUrl,
} from './proxy-url';

describe('parseProxySetting', () => {
  it('reads empty as inherit, direct/none as direct, and the four proxy schemes', () => {
    expect(parseProxySetting('')).toEqual({ mode: 'inherit' });
    expect(parseProxySetting('  ')).toEqual({ mode: 'inherit' });
    expect(parseProxySetting(undefined)).toEqual({ mode: 'inherit' });
    expect(parseProxySetting(null)).toEqual({ mode: 'inherit' });
    expect(parseProxySetting('direct')).toEqual({ mode: 'direct' });
    expect(parseProxySetting(' NONE ')).toEqual({ mode: 'direct' });
    for (const url of [
      'http://127.0.0.1:8080',
      'https://proxy.example:443',
      'socks5://u:p@127.0.0.1:1080',
      'socks5h://127.0.0.1:1080',
    ]) {
      const setting = parseProxySetting(url);
      expect(setting.mode).toBe('proxy');
      expect(setting.mode === 'proxy' && setting.url.protocol).toBe(`${url.split(':')[0]}:`);
    }
  });

  it('refuses other schemes, missing hosts and non-URLs without quoting the value', () => {
    for (const bad of ['ftp://user:hunter2@proxy:21', 'socks4://proxy:1080', 'socks5:hunter2', 'hunter2', 'http://']) {
      expect(() => parseProxySetting(bad)).toThrow(InvalidProxyUrlError);
      try {
        parseProxySetting(bad);
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });
});

describe('effectiveProxyUrl', () => {
  const global = 'http://127.0.0.1:3128';
  it('prefers the credential proxy over the global one', () => {
    expect(effectiveProxyUrl('socks5://127.0.0.1:1080', global)).toBe('socks5://127.0.0.1:1080');
  });
  it('falls back to the global proxy when the credential has none', () => {
    expect(effectiveProxyUrl('', global)).toBe('http://127.0.0.1:3128/');
    expect(effectiveProxyUrl(undefined, global)).toBe('http://127.0.0.1:3128/');
  });
  it('connects directly when either level says direct/none, or nothing is set', () => {
    expect(effectiveProxyUrl('direct', global)).toBeUndefined();
    expect(effectiveProxyUrl('none', global)).toBeUndefined();
    expect(effectiveProxyUrl('', 'direct')).toBeUndefined();
    expect(effectiveProxyUrl('', '')).toBeUndefined();
    expect(effectiveProxyUrl(undefined, undefined)).toBeUndefined();
  });
  it('throws for an unusable value at the level that decides, and ignores the other', () => {
    expect(() => effectiveProxyUrl('ftp://proxy', global)).toThrow(InvalidProxyUrlError);
    expect(() => effectiveProxyUrl('', 'ftp://proxy')).toThrow(InvalidProxyUrlError);
    expect(effectiveProxyUrl('direct', 'ftp://proxy')).toBeUndefined();
  });
});

describe('redactProxyUrl and ProxyUrlSchema', () => {
  it('drops user and password from logged values', () => {
    expect(redactProxyUrl('socks5://user:pass@127.0.0.1:1080')).toBe('socks5://127.0.0.1:1080');
    expect(redactProxyUrl('direct')).toBe('direct');
    expect(redactProxyUrl('')).toBe('');
    expect(redactProxyUrl('ftp://user:pass@x')).toBe('[invalid proxy URL]');
  });
  it('validates config and management values', () => {
    expect(ProxyUrlSchema.parse(' http://127.0.0.1:8080 ')).toBe('http://127.0.0.1:8080');
    expect(ProxyUrlSchema.safeParse('gopher://x').success).toBe(false);
  });
});
