import { isIP } from 'node:net';

/** Loopback callers count as local (CLIProxyAPI's "localhost" for remote-management). */
export function isLoopback(ip: string): boolean {
  const address = stripMappedPrefix(ip);
  return address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** Private and loopback peers may be our own gateway, whose X-Forwarded-For we then trust. */
export function isPrivateOrLoopback(ip: string): boolean {
  const address = stripMappedPrefix(ip);
  if (isLoopback(address)) return true;
  if (isIP(address) === 4) {
    const [a, b] = address.split('.').map(Number);
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  return /^f[cd][0-9a-f]{2}:/i.test(address) || /^fe80:/i.test(address);
}

/**
 * The caller's address: the socket peer, unless the peer is a private/loopback address
 * (the gateway proxying for a client), then the last X-Forwarded-For hop, which is the one
 * the gateway appended. A client reaching the admin port directly cannot claim to be local
 * because its own X-Forwarded-For is only read when the socket itself is private.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
  const peer = stripMappedPrefix(socketAddress ?? '');
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  if (peer && !isPrivateOrLoopback(peer)) return peer;
  const hops = (header ?? '')
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => isIP(stripMappedPrefix(hop)) !== 0);
  return hops.length ? stripMappedPrefix(hops[hops.length - 1]) : peer;
}

function stripMappedPrefix(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
