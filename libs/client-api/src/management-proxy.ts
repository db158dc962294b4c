import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { REQUEST_ID_HEADER } from '@cpa/contracts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

/**
 * `/v0/management/*` on the gateway is the admin service's API, passed through so
 * operators need one address, as with CLIProxyAPI.
 */
export async function proxyToAdmin(adminUrl: string, req: IncomingMessage, res: ServerResponse, body: Buffer | undefined): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && typeof value === 'string') headers[name] = value;
  }
  // The admin logs (and answers) the gateway's id for this request, not one of its own.
  const requestId = (req as IncomingMessage & { id?: unknown }).id;
  if (typeof requestId === 'string') headers[REQUEST_ID_HEADER] = requestId;
  const peer = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
  try {
    const upstream = await request(new URL(req.url ?? '/', adminUrl), {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      body: body && body.length && req.method !== 'GET' && req.method !== 'HEAD' ? body : undefined,
    });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const payload = Buffer.from(await upstream.body.arrayBuffer());
    out['content-length'] = String(payload.length);
    res.writeHead(upstream.statusCode, out);
    res.end(payload);
  } catch {
    const payload = JSON.stringify({ error: 'management service unavailable' });
    res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  }
}
