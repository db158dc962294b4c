import { Injectable } from '@nestjs/common';
import { clientErrorBody, type ClientFormat } from '@cpa/contracts';
import { ClientKeyLimits, hasCountedLimits, modelAllowed, retryAfterSeconds, type LimitRefusal } from '@cpa/catalog';
import type { ClientIdentity, KeyRefusal } from './client-key.service';

/** An answer refusing a request, in the client's format. */
export interface Refusal {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The error body of a refused client key, in the client's format. The statuses follow
 * what the upstream APIs send for the same situation: 401 for a key that may not be used
 * (disabled, expired), 403 for a model the key may not use (OpenAI answers a project
 * without access to a model with 403 `model_not_found`, Anthropic `permission_error`,
 * Google `PERMISSION_DENIED`), 429 for a rate limit and for a spent budget (as LiteLLM
 * does, with its `budget_exceeded` type in the OpenAI format).
 */
export function clientKeyErrorBody(
  format: ClientFormat,
  status: number,
  message: string,
  openaiType?: { type: string; code: string },
): unknown {
  const body = clientErrorBody(format, status, message);
  if (format === 'claude' || format === 'gemini' || !openaiType) return body;
  return { error: { ...(body as { error: object }).error, ...openaiType } };
}

/** A key that exists but is refused (disabled, expired): 401 in the client's format. */
export function keyRefusal(
  format: ClientFormat,
  reason: Extract<KeyRefusal, 'disabled' | 'expired'>,
  expiredAt?: number,
): Refusal {
  const message =
    reason === 'disabled'
      ? 'This client key is disabled'
      : `This client key expired at ${new Date(expiredAt ?? 0).toISOString()}`;
  return { status: 401, body: clientKeyErrorBody(format, 401, message), headers: {} };
}

const LIMIT_NAMES: Record<LimitRefusal['kind'], string> = {
  rpm: 'requests per minute',
  tpm: 'tokens per minute',
  daily_budget: 'tokens per day (UTC)',
  monthly_budget: 'tokens per month (UTC)',
};

/** The 429 of a reached limit or spent budget, with Retry-After. */
export function limitRefusalAnswer(format: ClientFormat, refusal: LimitRefusal): Refusal {
  const seconds = retryAfterSeconds(refusal);
  const budget = refusal.kind === 'daily_budget' || refusal.kind === 'monthly_budget';
  const message = budget
    ? `This client key's token budget is spent: ${refusal.used} of ${refusal.limit} ${LIMIT_NAMES[refusal.kind]}; it renews in ${seconds} s`
    : `Rate limit reached for this client key: ${refusal.limit} ${LIMIT_NAMES[refusal.kind]}; retry after ${seconds} s`;
  const openaiType = budget ? { type: 'budget_exceeded', code: 'budget_exceeded' } : undefined;
  return {
    status: 429,
    body: clientKeyErrorBody(format, 429, message, openaiType),
    headers: { 'retry-after': String(seconds) },
  };
}

/**
 * Decides whether a client key may send this request: its allowed models (from the
 * snapshot, no I/O), then its rate limits and budgets (one Redis script shared by every
 * gateway pod; keys without limits or budgets skip Redis). Limits fail closed: when Redis
 * cannot be reached the request is answered 503, as the transport would answer it anyway.
 */
@Injectable()
export class ClientKeyAdmission {
  constructor(private readonly limits: ClientKeyLimits) {}

  async admit(format: ClientFormat, client: ClientIdentity, model: string, now = Date.now()): Promise<Refusal | null> {
    const { policy } = client;
    if (!modelAllowed(policy.models, model)) {
      return {
        status: 403,
        body: clientKeyErrorBody(format, 403, `This client key may not use model ${model}`, {
          type: 'invalid_request_error',
          code: 'model_not_found',
        }),
        headers: {},
      };
    }
    if (!hasCountedLimits(policy)) return null;
    let result;
    try {
      result = await this.limits.admit(client.id, policy, now);
    } catch {
      return {
        status: 503,
        body: clientErrorBody(format, 503, 'Client key limits are temporarily unavailable; retry shortly'),
        headers: { 'retry-after': '1' },
      };
    }
    if (result.admitted) return null;
    // The script refused, so some limit is reached; the pure function names it and the wait.
    return limitRefusalAnswer(
      format,
      result.refusal ?? {
        kind: 'rpm',
        limit: policy.rpmLimit,
        used: result.counters.requestsInWindow,
        retryAfterMs: 1000,
      },
    );
  }
}
