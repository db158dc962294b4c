import { request, type Dispatcher } from 'undici';
import { ProxyDispatchers } from './proxy-dispatchers';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer | string;
  signal?: AbortSignal;
  /** The effective proxy (see effectiveProxyUrl in @cpa/config); undefined connects directly. */
  proxyUrl?: string;
}

/**
 * Keep-alive connection pools per proxy (undici pools per origin inside each agent),
 * so upstream calls reuse sockets instead of paying a TLS handshake per request.
 */
export class UpstreamClient {
  private readonly dispatchers = new ProxyDispatchers({ keepAliveTimeout: 30_000, connections: 256 });

  send(req: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    return request(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher: this.dispatchers.get(req.proxyUrl),
      headersTimeout: 10 * 60_000,
      bodyTimeout: 10 * 60_000,
    });
  }

  async close(): Promise<void> {
    await this.dispatchers.close();
  }
}
