import type { ClientFormat } from '@cpa/contracts';
import type { CanonicalError, CanonicalRequest, CanonicalResponse, StreamEvent, StreamSink, Usage } from './canonical';
import type { Frame, Framer } from './framing';
import type { Json } from './util';

export interface EncodeRequestOptions {
  /** Upstream model name; a thinking suffix `(level)`/`(budget)` is applied and stripped. */
  model: string;
  stream?: boolean;
}

export interface DecodeRequestHints {
  /** Gemini carries the model and streaming in the URL, not the body. */
  model?: string;
  stream?: boolean;
}

export interface StreamEncoderOptions {
  /** Model name the client should see (defaults to the upstream's). */
  model?: string;
  /** Gemini without alt=sse streams one JSON array instead of SSE. */
  jsonArray?: boolean;
}

/** Turns parsed upstream frames into canonical events; holds per-stream state. */
export interface StreamDecoder {
  frame(frame: Frame, sink: StreamSink): void;
}

/** Turns canonical events into client wire text; holds per-stream state (block framing). */
export interface StreamEncoder {
  write(event: StreamEvent): string;
  /** Closes whatever the upstream left open; idempotent. */
  end(): string;
}

export interface Codec {
  readonly format: ClientFormat;
  decodeRequest(body: unknown, hints?: DecodeRequestHints): CanonicalRequest;
  encodeRequest(req: CanonicalRequest, opts: EncodeRequestOptions): Json;
  decodeResponse(body: unknown): CanonicalResponse;
  encodeResponse(res: CanonicalResponse, opts?: { model?: string }): Json;
  /** Token usage of a non-streamed response body, without decoding its content. */
  usageOf(body: unknown): Usage | undefined;
  createFramer(): Framer;
  createStreamDecoder(): StreamDecoder;
  createStreamEncoder(opts?: StreamEncoderOptions): StreamEncoder;
  decodeError(body: unknown, status?: number): CanonicalError;
  encodeError(error: CanonicalError): Json;
}

export function mergeUsage(into: Usage | undefined, next: Usage): Usage {
  if (!into) return { ...next };
  into.inputTokens = next.inputTokens || into.inputTokens;
  into.outputTokens = next.outputTokens || into.outputTokens;
  if (next.cachedTokens !== undefined) into.cachedTokens = next.cachedTokens;
  if (next.reasoningTokens !== undefined) into.reasoningTokens = next.reasoningTokens;
  if (next.cacheCreationTokens !== undefined) into.cacheCreationTokens = next.cacheCreationTokens;
  return into;
}
