import type { OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import { redactHeaders, redactUrl, scrubSecrets, type ExecuteRequest } from '@cpa/contracts';
import type { RequestErrorEntry } from '@cpa/contracts/management-views';
import { redisReady } from '@cpa/catalog';
import { createRedis, type RedisConnection } from '@cpa/transport';
import { joinedBody, type UpstreamBody } from './provider-adapter';

/**
 * CLIProxyAPI's error request log, kept in Redis so every admin replica serves the same
 * list: one entry per failed upstream attempt (an error status or no answer at all), with
 * the exchange as sent and received, headers redacted, known secrets scrubbed from the
 * bodies, and bodies cut at ERROR_LOG_BODY_LIMIT. Executors push; the admin reads and serves
 * the entries as they are, so their shape, `RequestErrorEntry`, is in @cpa/contracts/management-views.
 */

/** Bodies are kept up to this many characters; the rest is summarised. */
export const ERROR_LOG_BODY_LIMIT = 8 * 1024;

export const REQUEST_ERROR_LOG = Symbol('REQUEST_ERROR_LOG');

/** What the executor needs: hand over an entry; it never waits for or fails on the write. */
export interface RequestErrorRecorder {
  record(entry: RequestErrorEntry): Promise<void>;
}

export function truncateBody(text: string, limit = ERROR_LOG_BODY_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[truncated: ${text.length - limit} more characters]`;
}

export interface FailedExchange {
  url: string;
  headers: Record<string, string>;
  body: UpstreamBody | string;
  response?: { status: number; headers: Record<string, string | string[] | undefined>; body: string };
  error?: string;
}

/**
 * The entry for one failed attempt. `secrets` are the credential's own values (API key,
 * tokens): removed wherever they appear, since an upstream may echo them in an error.
 */
export function errorEntry(
  req: ExecuteRequest,
  exchange: FailedExchange,
  secrets: readonly string[],
  now = new Date(),
): RequestErrorEntry {
  const clean = (text: string) => truncateBody(scrubSecrets(text, secrets));
  const body = typeof exchange.body === 'string' ? exchange.body : joinedBody(exchange.body).toString('utf8');
  return {
    request_id: req.route.requestId,
    time: now.toISOString(),
    client_format: req.route.clientFormat,
    model: req.route.model,
    stream: req.route.stream,
    family: req.family,
    credential_id: req.credentialId,
    attempt: req.attempt + 1,
    status: exchange.response?.status ?? 502,
    ...(exchange.error !== undefined ? { error: scrubSecrets(exchange.error, secrets) } : {}),
    upstream_request: {
      method: 'POST',
      url: scrubSecrets(redactUrl(exchange.url), secrets),
      headers: redactHeaders(exchange.headers),
      body: clean(body),
    },
    ...(exchange.response
      ? {
          upstream_response: {
            status: exchange.response.status,
            headers: redactHeaders(exchange.response.headers),
            body: clean(exchange.response.body),
          },
        }
      : {}),
  };
}

/** The string values of a credential's secret worth scrubbing (keys and tokens, not flags). */
export function secretValues(secret: Record<string, unknown>): string[] {
  return Object.values(secret).filter((v): v is string => typeof v === 'string' && v.length >= 8);
}

const LimitSchema = z.coerce.number().int().min(0).max(100_000).default(100);

/** REQUEST_ERROR_LOG_LIMIT: entries kept (default 100; 0 keeps none). */
export function requestErrorLogLimit(env: NodeJS.ProcessEnv = process.env): number {
  const parsed = LimitSchema.safeParse(env.REQUEST_ERROR_LOG_LIMIT || undefined);
  return parsed.success ? parsed.data : 100;
}

const EntrySchema = z.object({ request_id: z.string(), time: z.string(), status: z.number() }).loose();

/** The capped list `<prefix>request-errors` (newest first). */
export class RequestErrorLogStore implements RequestErrorRecorder, OnApplicationShutdown {
  private readonly key: string;

  constructor(
    private readonly redis: RedisConnection,
    keyPrefix: string,
    readonly limit = requestErrorLogLimit(),
  ) {
    this.key = `${keyPrefix}request-errors`;
  }

  static connect(redisUrl: string, keyPrefix: string, limit = requestErrorLogLimit()): RequestErrorLogStore {
    // Not queued while Redis is away: an error log entry is not worth holding a request's memory for.
    const redis = createRedis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'request-errors',
    });
    redis.on('error', () => undefined); // failures surface on the commands
    return new RequestErrorLogStore(redis, keyPrefix, limit);
  }

  async record(entry: RequestErrorEntry): Promise<void> {
    if (this.limit === 0) return;
    await redisReady(this.redis);
    await this.redis
      .multi()
      .lpush(this.key, JSON.stringify(entry))
      .ltrim(this.key, 0, this.limit - 1)
      .exec();
  }

  /** Every kept entry, newest first; items that are not entries are skipped. */
  async list(): Promise<RequestErrorEntry[]> {
    await redisReady(this.redis);
    const raw = await this.redis.lrange(this.key, 0, -1);
    const out: RequestErrorEntry[] = [];
    for (const item of raw) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(item);
      } catch {
        continue; // not JSON: skipped
      }
      if (EntrySchema.safeParse(parsed).success) out.push(parsed as RequestErrorEntry);
    }
    return out;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
