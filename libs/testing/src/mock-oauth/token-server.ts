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
    body: {
      access_token: `access-${index + 1}`,
      refresh_token: `refresh-${index + 1}`,
      expires_in: 3600,
      token_type: 'Bearer',
    },
  });
  /** Requests whose client went away before the answer was sent (e.g. aborted at a deadline). */
  aborted = 0;
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
        const recorded: RecordedTokenRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          fields,
        };
        const index = this.requests.push(recorded) - 1;
        res.on('close', () => {
          if (!res.writableFinished) this.aborted++;
        });
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

export interface RotatingTokensOptions {
  /** Lifetime of issued access tokens, in seconds (short, so tests see them expire). */
  expiresIn?: number;
  /** Wait this long before answering (a slow endpoint). */
  delayMs?: number;
  /**
   * The n-th access token issued (default `rotated-access-<n>`): an upstream mock may only
   * accept tokens of a certain shape (Claude OAuth tokens, ChatGPT JWTs with `exp`).
   */
  accessToken?: (n: number, expiresIn: number) => string;
}

/**
 * A handler behaving like the rotating token endpoints of Anthropic and OpenAI: every
 * refresh grant issues a new access and refresh token and spends the one presented, which
 * answers `400 invalid_grant` when presented again (as does a token it neither issued nor
 * was seeded with). Malformed grants get the RFC 6749 errors a real endpoint sends.
 */
export class RotatingTokens {
  /** Refresh tokens that may be presented once more. */
  readonly valid = new Set<string>();
  readonly spent = new Set<string>();
  private counter = 0;

  constructor(private readonly options: RotatingTokensOptions = {}) {}

  /** Accepts these refresh tokens (e.g. the ones stored with test credentials). */
  seed(...refreshTokens: string[]): this {
    for (const token of refreshTokens) this.valid.add(token);
    return this;
  }

  readonly handler: MockTokenHandler = async (req) => {
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
    const { grant_type: grantType, refresh_token: refreshToken } = req.fields;
    if (grantType !== 'refresh_token') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'grant_type must be refresh_token' },
      };
    }
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      return { status: 400, body: { error: 'invalid_request', error_description: 'refresh_token is required' } };
    }
    if (!this.valid.has(refreshToken)) {
      const why = this.spent.has(refreshToken) ? 'Refresh token already used' : 'Refresh token not found';
      return { status: 400, body: { error: 'invalid_grant', error_description: why } };
    }
    this.valid.delete(refreshToken);
    this.spent.add(refreshToken);
    const n = ++this.counter;
    const next = `rotated-refresh-${n}-${Math.random().toString(36).slice(2, 10)}`;
    this.valid.add(next);
    const expiresIn = this.options.expiresIn ?? 60;
    const accessToken = this.options.accessToken?.(n, expiresIn) ?? `rotated-access-${n}`;
    return {
      status: 200,
      body: { access_token: accessToken, refresh_token: next, expires_in: expiresIn, token_type: 'Bearer' },
    };
  };
}
