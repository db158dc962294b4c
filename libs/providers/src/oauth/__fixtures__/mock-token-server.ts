import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the mock token endpoint received, with its body decoded by content type. */
export interface RecordedTokenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** JSON object, or the form fields of an x-www-form-urlencoded body. */
  fields: Record<string, unknown>;
}

export interface MockTokenReply {
  status: number;
  body: unknown;
}

export type MockTokenHandler = (req: RecordedTokenRequest, index: number) => MockTokenReply | Promise<MockTokenReply>;

/**
 * A local OAuth token endpoint for tests: records every request and answers with the
 * handler's reply; by default it rotates both tokens (`access-<n>`, `refresh-<n>`).
 */
export class MockTokenServer {
  readonly requests: RecordedTokenRequest[] = [];
  handler: MockTokenHandler = (_req, index) => ({
    status: 200,
    body: { access_token: `access-${index + 1}`, refresh_token: `refresh-${index + 1}`, expires_in: 3600, token_type: 'Bearer' },
  });
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const type = req.headers['content-type'] ?? '';
        const fields = type.includes('application/json')
          ? (JSON.parse(raw) as Record<string, unknown>)
          : Object.fromEntries(new URLSearchParams(raw));
        const recorded: RecordedTokenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, fields };
        const index = this.requests.push(recorded) - 1;
        Promise.resolve(this.handler(recorded, index))
          .then((reply) => {
            res.writeHead(reply.status, { 'content-type': 'application/json' });
            res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
          })
          .catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** An unsigned JWT with the given claims (the refreshers only read claims). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
