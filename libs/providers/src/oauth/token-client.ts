import type { OnApplicationShutdown } from '@nestjs/common';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { InvalidTokenResponseError, type TokenRefresher } from './refreshers';
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
  proxyUrl?: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const OAuthErrorSchema = z.looseObject({
  error: z.union([z.string(), z.looseObject({ type: z.string().optional(), message: z.string().optional() })]).optional(),
  error_description: z.string().optional(),
});
const TIMEOUT_MS = 30_000;
const MAX_DESCRIPTION = 160;

/** Sends refresh-token grants; one keep-alive pool for direct calls, one per proxy. */
export class TokenClient implements OnApplicationShutdown {
  private readonly direct = new Agent({ keepAliveTimeout: 10_000 });
  private readonly proxied = new Map<string, ProxyAgent>();

  async refresh(refresher: TokenRefresher, refreshToken: string, options: TokenClientOptions = {}): Promise<TokenSet> {
    const req = refresher.buildRequest(refreshToken, options.env);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: options.signal,
        dispatcher: this.dispatcher(options.proxyUrl),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
    } catch (error) {
      // The error code only: messages may quote a proxy URL with its password.
      const reason = (error as { code?: unknown }).code;
      throw new OAuthRefreshError(`${refresher.family} token endpoint unreachable${typeof reason === 'string' ? ` (${reason})` : ''}`);
    }
    const text = await res.body.text();
    const json = parseJson(text);
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw describeFailure(refresher.family, res.statusCode, json, [refreshToken]);
    }
    try {
      return refresher.parseResponse(json, refreshToken, options.now ?? new Date());
    } catch (error) {
      if (error instanceof InvalidTokenResponseError) throw new OAuthRefreshError(error.message, res.statusCode);
      throw error;
    }
  }

  /** After every module's onModuleDestroy, so refreshes still draining can finish. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.proxied.values()].map((agent) => agent.close())]);
  }

  private dispatcher(proxyUrl?: string): Dispatcher {
    if (!proxyUrl) return this.direct;
    let agent = this.proxied.get(proxyUrl);
    if (!agent) {
      agent = new ProxyAgent({ uri: proxyUrl, keepAliveTimeout: 10_000 });
      this.proxied.set(proxyUrl, agent);
    }
    return agent;
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
 * 400/401/403 from a token endpoint mean the grant itself was refused (revoked or rotated
 * refresh token, wrong client); 429 and 5xx are worth another try later.
 */
export function describeFailure(family: string, status: number, body: unknown, secrets: string[]): OAuthRefreshError {
  const parsed = OAuthErrorSchema.safeParse(body);
  let code: string | undefined;
  let description: string | undefined;
  if (parsed.success) {
    const { error, error_description } = parsed.data;
    if (typeof error === 'string') code = error;
    else if (error) {
      code = error.type;
      description = error.message;
    }
    description = error_description ?? description;
  }
  if (code !== undefined && !ERROR_CODE.test(code)) code = undefined;
  const permanent = status === 400 || status === 401 || status === 403;
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
