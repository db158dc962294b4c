import { request, type Dispatcher } from 'undici';
import { upstreamBodyLength, type UpstreamBody } from './provider-adapter';
import { ProxyDispatchers } from './proxy-dispatchers';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: UpstreamBody | string;
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
    const { body } = req;
    const parts = typeof body !== 'string' && !Buffer.isBuffer(body);
    return request(req.url, {
      method: 'POST',
      // Parts are written one after another: with their length given, undici sends them as
      // one body (Content-Length, not chunked), as it does a single Buffer.
      headers: parts ? { ...req.headers, 'content-length': String(upstreamBodyLength(body)) } : req.headers,
      // undici takes any iterable of Buffers (its documentation); its typings name only Buffer and streams.
      body: parts ? (body as unknown as Buffer) : body,
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
