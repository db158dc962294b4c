import { describe, expect, it } from 'vitest';
import { clientAddress, isLoopback, isPrivateOrLoopback } from './client-address';

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('%s is local', (ip) => expect(isLoopback(ip)).toBe(true));
  it.each(['10.0.0.1', '192.168.1.1', '8.8.8.8', '::ffff:8.8.8.8', ''])('%s is not local', (ip) => expect(isLoopback(ip)).toBe(false));
});

describe('isPrivateOrLoopback', () => {
  it.each(['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.5', 'fd00::1', '127.0.0.1'])('%s is private', (ip) =>
    expect(isPrivateOrLoopback(ip)).toBe(true),
  );
  it.each(['172.32.0.1', '8.8.8.8', '2001:db8::1'])('%s is public', (ip) => expect(isPrivateOrLoopback(ip)).toBe(false));
});

describe('clientAddress', () => {
  it('uses the socket peer when there is no forwarding header', () => {
    expect(clientAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(clientAddress('::ffff:10.0.0.9', undefined)).toBe('10.0.0.9');
  });

  it('trusts the last X-Forwarded-For hop when our gateway (a private peer) forwarded the request', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('127.0.0.1', '127.0.0.1, 198.51.100.4')).toBe('198.51.100.4');
  });

  it('ignores X-Forwarded-For from a public peer, which could otherwise claim to be localhost', () => {
    expect(clientAddress('203.0.113.7', '127.0.0.1')).toBe('203.0.113.7');
  });

  it('skips hops that are not IP addresses', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.4, garbage')).toBe('198.51.100.4');
    expect(clientAddress('10.0.0.2', 'garbage')).toBe('10.0.0.2');
  });
});
