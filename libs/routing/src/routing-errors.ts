/**
 * Final error responses of the scheduler, byte-compatible with CLIProxyAPI.
 */
import { errorShapeForStatus } from '@cpa/contracts';
import { formatGoDurationNs, msToNs, roundGoDurationNs } from './go-duration';
import type { PickError } from './selectors';

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const NS_PER_SECOND = 1_000_000_000n;

/**
 * Go's json.Marshal escapes <, >, & and U+2028/2029; matching it keeps bodies identical.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Seconds until reset, rounded up (Retry-After and reset_seconds). */
export function resetSeconds(resetInMs: number): number {
  return Math.max(0, Math.ceil(resetInMs / 1000));
}

/** reset_time: under a second shows "1s", otherwise rounded to the second ("1m0s", "30m0s"). */
export function resetTimeText(resetInMs: number): string {
  const ns = msToNs(Math.max(0, resetInMs));
  const display = ns > 0n && ns < NS_PER_SECOND ? NS_PER_SECOND : roundGoDurationNs(ns, NS_PER_SECOND);
  return formatGoDurationNs(display);
}

/**
 * All candidates are cooling: 429 with Retry-After and the model_cooldown body. Keys are in
 * Go's (sorted map) order; `provider` is absent when several providers were eligible.
 */
export function modelCooldownError(model: string, provider: string | undefined, resetInMs: number): ErrorResponse {
  const resetIn = Math.max(0, resetInMs);
  let message = `All credentials for model ${model === '' ? 'requested model' : model} are cooling down`;
  if (provider) message += ` via provider ${provider}`;
  const seconds = resetSeconds(resetIn);
  const error = {
    code: 'model_cooldown',
    message,
    model,
    ...(provider ? { provider } : {}),
    reset_seconds: seconds,
    reset_time: resetTimeText(resetIn),
  };
  return {
    status: 429,
    headers: { 'Content-Type': 'application/json', 'Retry-After': String(seconds) },
    body: goJson({ error }),
  };
}

/**
 * No credential can serve the request: 503 naming the providers and model the way Go's
 * enrichAuthSelectionError does ("auth_unavailable: no auth available (providers=a,b, model=m)").
 */
export function authUnavailableError(
  providers: readonly string[],
  model: string,
  code: 'auth_unavailable' | 'auth_not_found' = 'auth_unavailable',
): ErrorResponse {
  const providerText = providers.length > 0 ? providers.join(',') : 'unknown';
  const modelText = model.trim() === '' ? 'unknown' : model.trim();
  const message = `${code}: no auth available (providers=${providerText}, model=${modelText})`;
  const shape = errorShapeForStatus(503, message);
  return {
    status: 503,
    headers: { 'Content-Type': 'application/json' },
    body: goJson({ error: { message: shape.message, type: shape.type, code } }),
  };
}

/** No configured credential serves the model at all (enabled or not): 404 model_not_found. */
export function modelNotServedError(model: string): ErrorResponse {
  return {
    status: 404,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      error: {
        message: `The model ${model} is not served by any configured credential`,
        type: 'invalid_request_error',
        code: 'model_not_found',
      },
    }),
  };
}

/** The client response for a failed pick. */
export function pickErrorResponse(error: PickError, providers: readonly string[], model: string): ErrorResponse {
  if (error.code === 'model_cooldown') return modelCooldownError(error.model, error.provider, error.resetInMs);
  return authUnavailableError(providers, model, error.code);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Go's BuildErrorResponseBody for an upstream failure: a JSON body passes through (trimmed);
 * anything else becomes {"error":{"message","type","code"}}. Retry-After is forwarded.
 */
export function normalizeUpstreamError(
  status: number,
  body: string,
  headers: Readonly<Record<string, string | undefined>> = {},
): ErrorResponse {
  const effective = status > 0 ? status : 500;
  const trimmed = body.trim();
  const out: Record<string, string> = { 'Content-Type': 'application/json' };
  const retryAfter = Object.entries(headers).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  if (retryAfter !== undefined && retryAfter !== '') out['Retry-After'] = retryAfter;
  if (trimmed !== '' && isJson(trimmed)) return { status: effective, headers: out, body: trimmed };
  const message = trimmed === '' ? (STATUS_TEXT[effective] ?? 'Error') : body;
  return { status: effective, headers: out, body: goJson({ error: errorShapeForStatus(effective, message) }) };
}

/**
 * An upstream failure as the client's final answer (normalizeUpstreamError); a 429 whose
 * headers carry no Retry-After gets one from the executor's retry hint, in whole seconds.
 */
export function upstreamFailureResponse(failure: {
  status: number;
  body: string;
  headers: Readonly<Record<string, string>>;
  retryAfterMs?: number;
}): ErrorResponse {
  const headers: Record<string, string> = { ...failure.headers };
  const hasRetryAfter = Object.keys(headers).some((k) => k.toLowerCase() === 'retry-after');
  if (!hasRetryAfter && failure.status === 429 && failure.retryAfterMs !== undefined && failure.retryAfterMs > 0) {
    headers['retry-after'] = String(Math.ceil(failure.retryAfterMs / 1000));
  }
  return normalizeUpstreamError(failure.status, failure.body, headers);
}
