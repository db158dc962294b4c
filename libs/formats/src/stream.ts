import type { ClientFormat } from '@cpa/contracts';
import type { CanonicalError, CanonicalResponse, ReasoningPart, StreamEvent, ToolCallPart, Usage } from './canonical';
import { mergeUsage, type StreamDecoder, type StreamEncoder, type StreamEncoderOptions } from './codec';
import type { Frame, Framer } from './framing';
import { codecFor } from './registry';

export type StreamChunk = string | Uint8Array;

/** Decodes an upstream byte stream into canonical events, chunk by chunk. */
class EventSource {
  private readonly utf8 = new TextDecoder();
  private readonly framer: Framer;
  private readonly decoder: StreamDecoder;
  private readonly onFrame = (f: Frame) => this.decoder.frame(f, this.sink);

  constructor(
    format: ClientFormat,
    private readonly sink: (e: StreamEvent) => void,
  ) {
    const codec = codecFor(format);
    this.framer = codec.createFramer();
    this.decoder = codec.createStreamDecoder();
  }

  push(chunk: StreamChunk): void {
    const text = typeof chunk === 'string' ? chunk : this.utf8.decode(chunk, { stream: true });
    if (text.length) this.framer.push(text, this.onFrame);
  }

  end(): void {
    const rest = this.utf8.decode();
    if (rest.length) this.framer.push(rest, this.onFrame);
    this.framer.end(this.onFrame);
  }
}

function toCanonicalError(err: unknown): CanonicalError {
  if (typeof err === 'string') return { message: err };
  if (err instanceof Error) return { message: err.message, status: (err as { status?: number }).status };
  const e = err as Partial<CanonicalError> | undefined;
  return { message: e?.message ?? 'upstream stream failed', status: e?.status, type: e?.type };
}

export type StreamTranslatorOptions = StreamEncoderOptions;

/**
 * Converts an upstream stream into the client's stream as chunks arrive. Each call returns
 * the client wire text produced so far ('' when a chunk completed no event).
 */
export class StreamTranslator {
  private out = '';
  private usageSoFar: Usage | undefined;
  private readonly source: EventSource;
  private readonly encoder: StreamEncoder;

  constructor(upstream: ClientFormat, client: ClientFormat, opts: StreamTranslatorOptions = {}) {
    this.encoder = codecFor(client).createStreamEncoder(opts);
    this.source = new EventSource(upstream, (e) => {
      if (e.type === 'usage' || (e.type === 'start' && e.usage))
        this.usageSoFar = mergeUsage(this.usageSoFar, e.type === 'usage' ? e.usage : e.usage!);
      this.out += this.encoder.write(e);
    });
  }

  push(chunk: StreamChunk): string {
    this.source.push(chunk);
    return this.take();
  }

  /** The upstream finished: flush framing and close the client stream properly. */
  end(): string {
    this.source.end();
    this.out += this.encoder.end();
    return this.take();
  }

  /** The upstream failed mid-stream: end with the client format's own error event. */
  error(err: unknown): string {
    this.out += this.encoder.write({ type: 'error', error: toCanonicalError(err) });
    return this.take();
  }

  /** Usage reported by the upstream so far (final once the stream ended). */
  get usage(): Usage | undefined {
    return this.usageSoFar;
  }

  private take(): string {
    const out = this.out;
    this.out = '';
    return out;
  }
}

export function createStreamTranslator(
  upstream: ClientFormat,
  client: ClientFormat,
  opts?: StreamTranslatorOptions,
): StreamTranslator {
  return new StreamTranslator(upstream, client, opts);
}

/** Thrown by aggregation when the upstream stream carried an error event. */
export class UpstreamStreamError extends Error {
  constructor(
    readonly error: CanonicalError,
    readonly partial: CanonicalResponse,
  ) {
    super(error.message);
  }
}

/** Builds a whole response from canonical events (streaming-only upstream, non-streaming client). */
export class ResponseAccumulator {
  readonly response: CanonicalResponse = { id: '', model: '', content: [], stopReason: 'end_turn' };
  error: CanonicalError | undefined;
  private readonly tools = new Map<number, ToolCallPart>();

  write(e: StreamEvent): void {
    const content = this.response.content;
    const last = content[content.length - 1];
    switch (e.type) {
      case 'start':
        this.response.id ||= e.id;
        this.response.model ||= e.model;
        if (e.created !== undefined) this.response.created = e.created;
        if (e.usage) this.response.usage = mergeUsage(this.response.usage, e.usage);
        break;
      case 'text':
        if (last?.type === 'text') last.text += e.text;
        else content.push({ type: 'text', text: e.text });
        break;
      case 'reasoning': {
        if (e.redacted) {
          content.push({ type: 'reasoning', text: '', redacted: e.redacted });
          break;
        }
        let part = last?.type === 'reasoning' && !last.redacted && !(e.text && last.signature) ? last : undefined;
        if (!part) {
          part = { type: 'reasoning', text: '' } as ReasoningPart;
          content.push(part);
        }
        if (e.text) part.text += e.text;
        if (e.signature) part.signature = e.signature;
        if (e.id) part.id = e.id;
        break;
      }
      case 'tool_call': {
        let call = this.tools.get(e.index);
        if (!call) {
          call = { type: 'tool_call', id: e.id ?? `call_${e.index}`, name: e.name ?? '', arguments: '' };
          this.tools.set(e.index, call);
          content.push(call);
        }
        if (e.arguments) call.arguments += e.arguments;
        if (e.signature) call.signature = e.signature;
        break;
      }
      case 'finish':
        this.response.stopReason = e.reason;
        if (e.stopSequence) this.response.stopSequence = e.stopSequence;
        break;
      case 'usage':
        this.response.usage = mergeUsage(this.response.usage, e.usage);
        break;
      case 'error':
        this.error ??= e.error;
        break;
    }
  }

  result(): CanonicalResponse {
    if (this.error) throw new UpstreamStreamError(this.error, this.response);
    if (this.response.stopReason === 'end_turn' && this.tools.size) this.response.stopReason = 'tool_use';
    return this.response;
  }
}

export class StreamAggregator {
  private readonly acc = new ResponseAccumulator();
  private readonly source: EventSource;

  constructor(upstream: ClientFormat) {
    this.source = new EventSource(upstream, (e) => this.acc.write(e));
  }

  push(chunk: StreamChunk): void {
    this.source.push(chunk);
  }

  /** The canonical response; throws UpstreamStreamError when the stream reported an error. */
  end(): CanonicalResponse {
    this.source.end();
    return this.acc.result();
  }
}

export function createStreamAggregator(upstream: ClientFormat): StreamAggregator {
  return new StreamAggregator(upstream);
}

/** Whole upstream stream body -> canonical response. */
export function aggregateStream(upstream: ClientFormat, body: StreamChunk): CanonicalResponse {
  const agg = new StreamAggregator(upstream);
  agg.push(body);
  return agg.end();
}

/** The canonical events a stream of this response would carry, in order. */
export function responseEvents(res: CanonicalResponse): StreamEvent[] {
  const events: StreamEvent[] = [{ type: 'start', id: res.id, model: res.model, created: res.created }];
  let tools = 0;
  for (const p of res.content) {
    if (p.type === 'text') events.push({ type: 'text', text: p.text });
    else if (p.type === 'reasoning') {
      if (p.redacted) events.push({ type: 'reasoning', redacted: p.redacted });
      else events.push({ type: 'reasoning', text: p.text || undefined, signature: p.signature, id: p.id });
    } else
      events.push({
        type: 'tool_call',
        index: tools++,
        id: p.id,
        name: p.name,
        arguments: p.arguments,
        signature: p.signature,
      });
  }
  if (res.usage) events.push({ type: 'usage', usage: res.usage });
  events.push({ type: 'finish', reason: res.stopReason, stopSequence: res.stopSequence }, { type: 'done' });
  return events;
}

/** A non-streaming upstream answer as the client's stream (whole body text). */
export function streamFromResponse(
  client: ClientFormat,
  res: CanonicalResponse,
  opts: StreamEncoderOptions = {},
): string {
  const encoder = codecFor(client).createStreamEncoder(opts);
  let out = '';
  for (const e of responseEvents(res)) out += encoder.write(e);
  return out + encoder.end();
}

/** Reads usage out of a stream that is otherwise passed through untouched (same-format requests). */
export class StreamUsageTap {
  private current: Usage | undefined;
  private readonly source: EventSource;

  constructor(format: ClientFormat) {
    this.source = new EventSource(format, (e) => {
      if (e.type === 'usage') this.current = mergeUsage(this.current, e.usage);
      else if (e.type === 'start' && e.usage) this.current = mergeUsage(this.current, e.usage);
    });
  }

  push(chunk: StreamChunk): void {
    this.source.push(chunk);
  }

  end(): Usage | undefined {
    this.source.end();
    return this.current;
  }

  get usage(): Usage | undefined {
    return this.current;
  }
}

export function createStreamUsageTap(format: ClientFormat): StreamUsageTap {
  return new StreamUsageTap(format);
}
