import { describe, expect, it } from 'vitest';
import { clientAddress, isLoopback, TrustedProxies } from './client-address';

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('%s is local', (ip) =>
    expect(isLoopback(ip)).toBe(true),
  );
  it.each(['10.0.0.1', '192.168.1.1', '8.8.8.8', '::ffff:8.8.8.8', ''])('%s is not local', (ip) =>
    expect(isLoopback(ip)).toBe(false),
  );
});

describe('TrustedProxies', () => {
  const trusted = TrustedProxies.parse('10.0.0.0/8, 192.168.1.7,fd00::/8');
  it.each(['127.0.0.1', '::1', '10.1.2.3', '::ffff:10.9.9.9', '192.168.1.7', 'fd12::1'])('trusts %s', (ip) =>
    expect(trusted.has(ip)).toBe(true),
  );
  it.each(['192.168.1.8', '172.16.0.1', '8.8.8.8', 'garbage', ''])('does not trust %s', (ip) =>
    expect(trusted.has(ip)).toBe(false),
  );
  it('trusts only loopback when nothing is configured', () => {
    expect(TrustedProxies.parse(undefined).has('10.0.0.1')).toBe(false);
    expect(TrustedProxies.parse('').has('127.0.0.1')).toBe(true);
  });
  it.each(['10.0.0.0/33', 'example.com', '10.0.0.1/8/1', '10.0.0.0/x'])('refuses %s', (entry) =>
    expect(() => TrustedProxies.parse(entry)).toThrow(/neither an IP/),
  );
});

describe('clientAddress', () => {
  const compose = TrustedProxies.parse('172.18.0.0/16');

  it('uses the socket peer when there is no forwarding header', () => {
    expect(clientAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(clientAddress('::ffff:10.0.0.9', undefined)).toBe('10.0.0.9');
  });

  it('takes the hop a loopback gateway appended', () => {
    expect(clientAddress('127.0.0.1', '127.0.0.1, 198.51.100.4')).toBe('198.51.100.4');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy, private or public', () => {
    expect(clientAddress('10.0.0.2', '127.0.0.1')).toBe('10.0.0.2');
    expect(clientAddress('192.168.1.50', '127.0.0.1')).toBe('192.168.1.50');
    expect(clientAddress('203.0.113.7', '127.0.0.1')).toBe('203.0.113.7');
  });

  it('walks through every trusted proxy (nginx, then the gateway) to the operator', () => {
    // operator -> nginx (172.18.0.5) -> gateway (172.18.0.9) -> admin
    expect(clientAddress('172.18.0.9', '198.51.100.4, 172.18.0.5', compose)).toBe('198.51.100.4');
    expect(clientAddress('172.18.0.9', '198.51.100.5, 172.18.0.5', compose)).toBe('198.51.100.5');
    // A client's own forged hops stop at the first address no trusted proxy vouches for.
    expect(clientAddress('172.18.0.9', '127.0.0.1, 198.51.100.4, 172.18.0.5', compose)).toBe('198.51.100.4');
  });

  it('skips hops that are not IP addresses', () => {
    expect(clientAddress('127.0.0.1', '198.51.100.4, garbage')).toBe('198.51.100.4');
    expect(clientAddress('127.0.0.1', 'garbage')).toBe('127.0.0.1');
  });
});
