import { InvalidProxyUrlError, parseProxySetting } from '@cpa/config';
import { Agent, ProxyAgent, Socks5ProxyAgent, type Dispatcher } from 'undici';

export interface ProxyDispatcherOptions {
  keepAliveTimeout: number;
  /** Connections per origin of the direct pool (undici's default: unlimited). */
  connections?: number;
}

/**
 * One keep-alive undici dispatcher per proxy URL (and one for direct calls), so calls
 * through the same proxy reuse its tunnels. http/https proxies are tunnelled with CONNECT
 * (undici's ProxyAgent); socks5 and socks5h go through undici's Socks5ProxyAgent, which
 * hands host names to the proxy to resolve, as Go's SOCKS5 dialer in CLIProxyAPI does for
 * both schemes.
 */
export class ProxyDispatchers {
  private readonly direct: Agent;
  private readonly proxied = new Map<string, Dispatcher>();

  constructor(private readonly options: ProxyDispatcherOptions) {
    this.direct = new Agent({
      keepAliveTimeout: options.keepAliveTimeout,
      ...(options.connections ? { connections: options.connections, pipelining: 1 } : {}),
    });
  }

  /** The dispatcher for an effective proxy URL (see effectiveProxyUrl); undefined means direct. */
  get(proxyUrl?: string): Dispatcher {
    if (!proxyUrl) return this.direct;
    let dispatcher = this.proxied.get(proxyUrl);
    if (!dispatcher) {
      dispatcher = this.create(proxyUrl);
      this.proxied.set(proxyUrl, dispatcher);
    }
    return dispatcher;
  }

  async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.proxied.values()].map((dispatcher) => dispatcher.close())]);
  }

  private create(proxyUrl: string): Dispatcher {
    const setting = parseProxySetting(proxyUrl);
    if (setting.mode !== 'proxy') throw new InvalidProxyUrlError('invalid proxy URL: not a proxy');
    const { url } = setting;
    if (url.protocol === 'socks5:' || url.protocol === 'socks5h:') {
      // undici names the scheme socks5 only; with it the target's host name is sent unresolved.
      const socks = new URL(url.href.replace(/^socks5h:/, 'socks5:'));
      return new Socks5ProxyAgent(socks);
    }
    return new ProxyAgent({ uri: url.href, keepAliveTimeout: this.options.keepAliveTimeout });
  }
}
