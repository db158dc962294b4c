import type { OnApplicationShutdown } from '@nestjs/common';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { InvalidProxyUrlError } from '@cpa/config';
import { ProxyDispatchers } from '../proxy-dispatchers';
import { InvalidTokenResponseError, type TokenRefresher, type TokenRequest } from './refreshers';
import type { TokenSet } from './secret';

/**
 * A refresh that did not produce tokens. The message is safe to log and store as the
 * credential's last error: it names the status and the endpoint's OAuth error code, never
 * a token.
 */
export class OAuthRefreshError extends Error {
  override readonly name = 'OAuthRefreshError';

  constructor(
    message: string,
    /** HTTP status of the token endpoint, when it answered. */
    readonly status?: number,
    /** The OAuth `error` code (e.g. `invalid_grant`), when given. */
    readonly code?: string,
    /** True when retrying with the same refresh token cannot help (revoked, wrong client). */
    readonly permanent = false,
  ) {
    super(message);
  }
}

export interface TokenClientOptions {
  now?: Date;
  /** The effective proxy (see effectiveProxyUrl in @cpa/config); undefined connects directly. */
  proxyUrl?: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** The stored secret, for families whose grant or follow-up lookups need more than the grant (Vertex, Antigravity, Kimi). */
  secret?: Record<string, unknown>;
  /** The credential refreshed (Kimi derives a device id from it when the login has none). */
  credentialId?: string;
}

/**
 * Longest a token request may take, answer included. A refresh holds its claim on the
 * credential for REFRESH_PENDING_BACKOFF_MS (1 min); giving up well inside it means no
 * second worker claims the credential and presents the same refresh token while this
 * request could still be spending it.
 */
export const TOKEN_REQUEST_TIMEOUT_MS = 20_000;

const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const OAuthErrorSchema = z.looseObject({
  error: z
    .union([
      z.string(),
      z.looseObject({ type: z.string().optional(), code: z.string().optional(), message: z.string().optional() }),
    ])
    .optional(),
  error_description: z.string().optional(),
});

/**
 * Error codes by which token endpoints refuse the grant itself: the refresh token is
 * revoked, expired, already spent (rotating endpoints) or issued to another client. RFC 6749
 * §5.2 plus OpenAI's (`refresh_token_*`) and Anthropic's (`authentication_error`) spellings,
 * as CLIProxyAPI lists them.
 */
const REFUSED_GRANT_CODES = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'unauthorized',
  'authentication_error',
  'refresh_token_expired',
  'refresh_token_revoked',
  'refresh_token_reused',
]);
const MAX_DESCRIPTION = 160;

/** Sends refresh-token grants; one keep-alive pool for direct calls, one per proxy. */
export class TokenClient implements OnApplicationShutdown {
  private readonly dispatchers = new ProxyDispatchers({ keepAliveTimeout: 10_000 });
  private readonly timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  }

  async refresh(refresher: TokenRefresher, refreshToken: string, options: TokenClientOptions = {}): Promise<TokenSet> {
    const req = refresher.buildRequest(refreshToken, options.env, options.secret, options.credentialId);
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal,
        dispatcher: this.dispatchers.get(options.proxyUrl),
      });
      text = await res.body.text();
    } catch (error) {
      if (error instanceof InvalidProxyUrlError) throw new OAuthRefreshError(error.message);
      if (deadline.aborted)
        throw new OAuthRefreshError(`${refresher.family} token endpoint did not answer within ${this.timeoutMs} ms`);
      // The error code only: messages may quote a proxy URL with its password.
      const reason = (error as { code?: unknown }).code;
      throw new OAuthRefreshError(
        `${refresher.family} token endpoint unreachable${typeof reason === 'string' ? ` (${reason})` : ''}`,
      );
    }
    const json = parseJson(text);
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw describeFailure(refresher.family, res.statusCode, json, [refreshToken]);
    }
    let tokens: TokenSet;
    try {
      tokens = refresher.parseResponse(json, refreshToken, options.now ?? new Date());
    } catch (error) {
      if (error instanceof InvalidTokenResponseError) throw new OAuthRefreshError(error.message, res.statusCode);
      throw error;
    }
    if (refresher.complete) {
      const facts = await refresher.complete(
        tokens,
        options.secret ?? {},
        (lookup) => this.lookup(lookup, options),
        options.env,
      );
      tokens.extra = { ...tokens.extra, ...facts };
    }
    return tokens;
  }

  /** One JSON request made with fresh tokens (Antigravity's project, iFlow's API key); undefined when it fails: the tokens stand anyway. */
  private async lookup(req: TokenRequest, options: TokenClientOptions): Promise<unknown> {
    try {
      const method = req.method ?? 'POST';
      const res = await request(req.url, {
        method,
        headers: req.headers,
        body: method === 'GET' ? undefined : req.body,
        signal: AbortSignal.timeout(this.timeoutMs),
        dispatcher: this.dispatchers.get(options.proxyUrl),
      });
      const text = await res.body.text();
      return res.statusCode >= 200 && res.statusCode < 300 ? parseJson(text) : undefined;
    } catch {
      return undefined;
    }
  }

  /** After every module's onModuleDestroy, so refreshes still draining can finish. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    await this.dispatchers.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A failure is permanent (the credential needs a new login) when the endpoint refused the
 * grant: a 401, or a 400/403 naming a refused-grant code. Anything else, including a
 * 400/403 without an OAuth error (a proxy's or bot filter's page), 429 and 5xx, is worth
 * another try later.
 */
export function describeFailure(family: string, status: number, body: unknown, secrets: string[]): OAuthRefreshError {
  const parsed = OAuthErrorSchema.safeParse(body);
  let code: string | undefined;
  let description: string | undefined;
  if (parsed.success) {
    const { error, error_description } = parsed.data;
    if (typeof error === 'string') code = error;
    else if (error) {
      // OpenAI puts the specific reason in `code` (refresh_token_reused), Anthropic in `type`.
      code = error.code ?? error.type;
      description = error.message;
    }
    description = error_description ?? description;
  }
  if (code !== undefined && !ERROR_CODE.test(code)) code = undefined;
  const permanent =
    status === 401 ||
    ((status === 400 || status === 403) && code !== undefined && REFUSED_GRANT_CODES.has(code.toLowerCase()));
  let message = `${family} token endpoint answered ${status}${code ? ` ${code}` : ''}`;
  if (description) message += `: ${redact(description, secrets).slice(0, MAX_DESCRIPTION)}`;
  return new OAuthRefreshError(message, status, code, permanent);
}

/** Endpoints sometimes echo what they were sent; never let a token reach a log or a column. */
function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(/[\r\n]+/g, ' ');
}
