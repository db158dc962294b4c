import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from '@cpa/contracts';

/**
 * undici loads on the first management call: nothing else in the gateway uses it, and
 * loaded it holds about 4 MB of heap in every gateway (RSS budget, docs/decisions.md).
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

/**
 * `/v0/management/*` on the gateway is the admin service's API, passed through so
 * operators need one address, as with CLIProxyAPI.
 */
export async function proxyToAdmin(
  adminUrl: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer | undefined,
): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && typeof value === 'string') headers[name] = value;
  }
  // The admin logs (and answers) the gateway's id for this request (answered by the logging hook), not one of its own.
  const requestId = res.getHeader(REQUEST_ID_HEADER);
  if (typeof requestId === 'string') headers[REQUEST_ID_HEADER] = requestId;
  const peer = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
  try {
    const { request } = await loadUndici();
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
