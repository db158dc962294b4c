import { BlockList, isIP } from 'node:net';

/** Loopback callers count as local (CLIProxyAPI's "localhost" for remote-management). */
export function isLoopback(ip: string): boolean {
  const address = stripMappedPrefix(ip);
  return address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/**
 * The proxies whose X-Forwarded-For is believed: loopback (a gateway on this machine,
 * as `npm start` runs it) and the addresses or CIDR ranges of the `TRUSTED_PROXIES`
 * setting (the compose network's gateways and nginx). Nothing else, private or not:
 * any host on the same network could otherwise claim to be local.
 */
export class TrustedProxies {
  static readonly LOOPBACK_ONLY = new TrustedProxies([]);
  private readonly list = new BlockList();

  /** Throws on an entry that is neither an IP address nor a CIDR range. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (!entry) continue;
      const [address, bits, extra] = entry.split('/');
      const family = isIP(address);
      const prefix = Number(bits);
      const max = family === 4 ? 32 : 128;
      if (!family || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || prefix > max))) {
        throw new Error(`trusted proxy "${entry}" is neither an IP address nor a CIDR range`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, prefix, type);
    }
  }

  /** A comma-separated list, as the environment gives it. */
  static parse(text: string | undefined): TrustedProxies {
    return new TrustedProxies((text ?? '').split(','));
  }

  has(ip: string): boolean {
    const address = stripMappedPrefix(ip);
    if (isLoopback(address)) return true;
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The caller's address: starting from the socket peer, each trusted proxy's word is taken
 * for the hop before it (X-Forwarded-For read from the right), up to the first address
 * that is not a trusted proxy. A client reaching the admin directly cannot claim to be
 * local, and operators behind nginx are told apart instead of sharing nginx's address.
 */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: TrustedProxies = TrustedProxies.LOOPBACK_ONLY,
): string {
  let address = stripMappedPrefix(socketAddress ?? '');
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const hops = (header ?? '')
    .split(',')
    .map((hop) => stripMappedPrefix(hop.trim()))
    .filter((hop) => isIP(hop) !== 0);
  while (hops.length && (address === '' || trusted.has(address))) address = hops.pop()!;
  return address;
}

function stripMappedPrefix(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
