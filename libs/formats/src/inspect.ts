import type { ClientFormat } from '@cpa/contracts';
import type { CanonicalError, Usage } from './canonical';
import { codecFor } from './registry';
import { isObject, type Json } from './util';

export interface GeminiPath {
  model: string;
  /** generateContent, streamGenerateContent, countTokens, ... */
  action: string;
  stream: boolean;
  /** True when the stream is SSE (`alt=sse`), false for the bare JSON array. */
  sse: boolean;
}

/** Parses `/v1beta/models/{model}:{action}?alt=sse` (model may carry a thinking suffix). */
export function parseGeminiPath(path: string): GeminiPath | undefined {
  const [pathname, query = ''] = path.split('?', 2);
  const m = /\/models\/([^/]+?):([A-Za-z]+)$/.exec(pathname);
  if (!m) return undefined;
  const action = m[2];
  const stream = action === 'streamGenerateContent';
  const sse = stream && new URLSearchParams(query).get('alt') === 'sse';
  return { model: decodeURIComponent(m[1]), action, stream, sse };
}

export interface RequestHints {
  /** Gemini: the request path (model and streaming live in the URL). */
  path?: string;
  model?: string;
  stream?: boolean;
}

export interface RequestInfo {
  model: string;
  stream: boolean;
}

/** Routing fields of a client request without decoding the whole body. */
export function inspectRequest(format: ClientFormat, body: unknown, hints: RequestHints = {}): RequestInfo {
  if (format === 'gemini') {
    const parsed = hints.path ? parseGeminiPath(hints.path) : undefined;
    return { model: hints.model ?? parsed?.model ?? '', stream: hints.stream ?? parsed?.stream ?? false };
  }
  const b: Json = isObject(body) ? body : {};
  return {
    model: hints.model ?? (typeof b.model === 'string' ? b.model : ''),
    stream: hints.stream ?? b.stream === true,
  };
}

/** Token usage of a non-streamed response body of the given format. */
export function usageFromResponse(format: ClientFormat, body: unknown): Usage | undefined {
  return codecFor(format).usageOf(body);
}

/** An error in the error envelope of the client's format. */
export function encodeErrorBody(format: ClientFormat, error: CanonicalError): Json {
  return codecFor(format).encodeError(error);
}

/**
 * The error event of the client format's stream, for a stream that must end early (the
 * process producing it died): a client reads why instead of a silent truncation.
 */
export function encodeStreamErrorEvent(format: ClientFormat, error: CanonicalError): string {
  return codecFor(format).createStreamEncoder().write({ type: 'error', error });
}

/** An upstream error body (any provider envelope) re-expressed for a client of another format. */
export function translateErrorBody(upstream: ClientFormat, client: ClientFormat, status: number, body: unknown): Json {
  const error = codecFor(upstream).decodeError(body, status);
  return codecFor(client).encodeError({ ...error, status });
}
