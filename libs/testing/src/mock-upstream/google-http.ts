import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { upstreamError } from './upstream-errors';

/** What the Google mocks (token endpoint, Cloud Code Assist, Vertex) share: one request as received. */
export interface GoogleRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
}

/** A JSON or raw answer. */
export interface GoogleReply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  /** A streamed answer instead of `body`: one write per element. */
  chunks?: string[];
}

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function header(req: GoogleRequest, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

export function bearerOf(req: GoogleRequest): string {
  const auth = header(req, 'authorization');
  return auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
}

/** A google.rpc.Status error as Google's JSON APIs send it. */
export function googleError(status: number, message: string, extra: { retryAfterSeconds?: number } = {}): GoogleReply {
  const e = upstreamError('gemini', status, { message, retryAfterSeconds: extra.retryAfterSeconds });
  return { status: e.status, headers: e.headers, body: e.body };
}

export const MISSING_CREDENTIALS =
  'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
export const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** `Invalid JSON payload received. Unknown name "x"` for fields the proto does not have. */
export function unknownFields(body: Json, allowed: readonly string[], at = ''): GoogleReply | undefined {
  const unknown = Object.keys(body).find((key) => !allowed.includes(key));
  if (unknown === undefined) return undefined;
  return googleError(
    400,
    `Invalid JSON payload received. Unknown name "${unknown}"${at ? ` at '${at}'` : ''}: Cannot find field.`,
  );
}

export interface GoogleMockServer {
  readonly url: string;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that reads each request whole and sends the handler's reply. */
export async function startGoogleServer(
  handle: (req: GoogleRequest) => GoogleReply | Promise<GoogleReply>,
): Promise<GoogleMockServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const request: GoogleRequest = {
        method: req.method ?? 'GET',
        path: q === -1 ? rawUrl : rawUrl.slice(0, q),
        query: Object.fromEntries(new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1))),
        headers: { ...req.headers },
        rawBody,
        body,
      };
      Promise.resolve(handle(request))
        .then((reply) => send(res, reply))
        .catch((err: unknown) => send(res, googleError(500, `mock failure: ${String(err)}`)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, reply: GoogleReply): void {
  if (reply.chunks) {
    res.writeHead(reply.status, reply.headers ?? {});
    for (const part of reply.chunks) res.write(part);
    res.end();
    return;
  }
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=UTF-8',
    ...reply.headers,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
