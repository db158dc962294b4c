import { randomUUID } from 'node:crypto';
import type { AttemptResult, RouteRequest } from '@cpa/contracts';
import type { UsageRequestRecord } from '@cpa/db/light';

/**
 * The usage record of one client request, built where its outcome is known as a whole:
 * - an executor's AttemptResult (the attempt that answered the client; it carries the
 *   request's attempt count, and the executor's clock for the end and the first byte);
 * - a final reply of the scheduler itself (every credential failed before its first byte,
 *   none was available, or the model is served by none), timed on the scheduler's clock.
 * Latency starts at the gateway's `receivedAt`, so clocks of different machines should agree
 * (NTP); a negative difference counts as 0.
 */

/** The last attempt a scheduler reply follows, if any. */
export interface LastAttempt {
  credentialId: string;
  family: string;
  /** Attempts made so far. */
  attempts: number;
}

function since(start: number | undefined, end: number): number {
  return start === undefined ? 0 : Math.max(0, Math.round(end - start));
}

/** The record of the request an attempt answered; undefined for results without their request (older executors). */
export function recordOfResult(result: AttemptResult, key: string = randomUUID()): UsageRequestRecord | undefined {
  const request = result.request;
  if (!request) return undefined;
  const usage = result.usage;
  return {
    key,
    requestId: request.requestId,
    at: request.receivedAt ?? request.finishedAt,
    clientKeyId: result.clientKeyId ?? '',
    credentialId: result.credentialId,
    family: result.family,
    model: request.model,
    status: result.status,
    latencyMs: since(request.receivedAt, request.finishedAt),
    ttfbMs:
      request.firstByteAt === undefined || request.receivedAt === undefined
        ? null
        : since(request.receivedAt, request.firstByteAt),
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    cachedTokens: usage?.cachedTokens ?? 0,
    reasoningTokens: usage?.reasoningTokens ?? 0,
    attempts: request.attempts,
  };
}

/** The record of a request the scheduler answered itself with `status`. */
export function recordOfReply(
  route: RouteRequest,
  status: number,
  last: LastAttempt | undefined,
  now: number,
  key: string = randomUUID(),
): UsageRequestRecord {
  return {
    key,
    requestId: route.requestId,
    at: route.receivedAt ?? now,
    clientKeyId: route.clientKeyId ?? '',
    credentialId: last?.credentialId ?? '',
    family: last?.family ?? '',
    model: route.model,
    status,
    latencyMs: since(route.receivedAt, now),
    ttfbMs: null,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    attempts: last?.attempts ?? 0,
  };
}
