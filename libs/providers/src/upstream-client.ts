import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer | string;
  signal?: AbortSignal;
  proxyUrl?: string;
}

/**
 * Keep-alive connection pools per proxy (undici pools per origin inside each agent),
 * so upstream calls reuse sockets instead of paying a TLS handshake per request.
 */
export class UpstreamClient {
  private readonly direct = new Agent({ keepAliveTimeout: 30_000, connections: 256, pipelining: 1 });
  private readonly proxied = new Map<string, ProxyAgent>();

  private dispatcher(proxyUrl?: string): Dispatcher {
    if (!proxyUrl) return this.direct;
    let agent = this.proxied.get(proxyUrl);
    if (!agent) {
      agent = new ProxyAgent({ uri: proxyUrl, keepAliveTimeout: 30_000 });
      this.proxied.set(proxyUrl, agent);
    }
    return agent;
  }

  send(req: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    return request(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher: this.dispatcher(req.proxyUrl),
      headersTimeout: 10 * 60_000,
      bodyTimeout: 10 * 60_000,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.proxied.values()].map((a) => a.close())]);
  }
}
