import type { ClientFormat, TokenUsage } from '@cpa/contracts';
import {
  codecFor,
  mergeUsage,
  type CanonicalError,
  type Frame as SseFrame,
  type StreamEncoder,
  type StreamEvent,
  type Usage,
} from '@cpa/formats';
import { streamErrorEvent } from './stream-errors';
import { toTokenUsage, type ExchangePlan } from './translation';

/** An error event the upstream sent inside its stream, with the raw data it came in. */
export interface UpstreamStreamFailure {
  error: CanonicalError;
  /** The event's payload as the upstream sent it (its own error envelope). */
  data: string;
}

/**
 * Turns upstream stream chunks into client bytes as they arrive: untouched for a
 * same-format stream, translated event by event otherwise. Either way every upstream
 * event is decoded once, so the relay knows the usage, whether any event arrived yet, and
 * whether the upstream reported an error (before or after the first payload).
 */
export interface StreamRelay {
  /** Client bytes for one upstream chunk (possibly empty: no event completed yet). */
  push(chunk: Buffer): Buffer;
  /** The upstream ended: whatever closes the client stream. */
  end(): Buffer;
  /** The upstream broke mid-stream: the client format's own error event. */
  error(status: number, message: string): Buffer;
  /** Token usage the stream reported so far. */
  usage(): TokenUsage | undefined;
  /** The first upstream event, once one was decoded. */
  readonly firstEvent: StreamEvent | undefined;
  /** The first error event the upstream sent, if any. */
  readonly failure: UpstreamStreamFailure | undefined;
}

/** Decodes upstream bytes into canonical events (UTF-8 across chunk boundaries, the format's framing). */
class UpstreamEvents {
  private readonly utf8 = new TextDecoder();
  private readonly framer;
  private readonly decoder;
  private usageSoFar: Usage | undefined;
  firstEvent: StreamEvent | undefined;
  failure: UpstreamStreamFailure | undefined;

  constructor(
    format: ClientFormat,
    private readonly onEvent: (event: StreamEvent) => void = () => undefined,
  ) {
    const codec = codecFor(format);
    this.framer = codec.createFramer();
    this.decoder = codec.createStreamDecoder();
  }

  push(chunk: Buffer): void {
    const text = this.utf8.decode(chunk, { stream: true });
    if (text.length) this.framer.push(text, this.onFrame);
  }

  end(): void {
    const rest = this.utf8.decode();
    if (rest.length) this.framer.push(rest, this.onFrame);
    this.framer.end(this.onFrame);
  }

  get usage(): Usage | undefined {
    return this.usageSoFar;
  }

  private readonly onFrame = (frame: SseFrame) =>
    this.decoder.frame(frame, (event) => {
      this.firstEvent ??= event;
      if (event.type === 'error') this.failure ??= { error: event.error, data: frame.data };
      if (event.type === 'usage') this.usageSoFar = mergeUsage(this.usageSoFar, event.usage);
      else if (event.type === 'start' && event.usage) this.usageSoFar = mergeUsage(this.usageSoFar, event.usage);
      this.onEvent(event);
    });
}

export function createStreamRelay(
  plan: Pick<ExchangePlan, 'client' | 'upstream' | 'jsonArray'>,
  clientModel: string,
): StreamRelay {
  if (plan.client === plan.upstream) {
    const events = new UpstreamEvents(plan.upstream);
    return {
      push(chunk) {
        events.push(chunk);
        return chunk;
      },
      end() {
        events.end();
        return Buffer.alloc(0);
      },
      error: (status, message) => streamErrorEvent(plan.client, status, message),
      usage: () => toTokenUsage(events.usage),
      get firstEvent() {
        return events.firstEvent;
      },
      get failure() {
        return events.failure;
      },
    };
  }

  const encoder: StreamEncoder = codecFor(plan.client).createStreamEncoder({
    model: clientModel,
    jsonArray: plan.jsonArray,
  });
  let out = '';
  const events = new UpstreamEvents(plan.upstream, (event) => (out += encoder.write(event)));
  const take = () => {
    const bytes = Buffer.from(out);
    out = '';
    return bytes;
  };
  return {
    push(chunk) {
      events.push(chunk);
      return take();
    },
    end() {
      events.end();
      out += encoder.end();
      return take();
    },
    error(status, message) {
      out += encoder.write({ type: 'error', error: { status, message } });
      return take();
    },
    usage: () => toTokenUsage(events.usage),
    get firstEvent() {
      return events.firstEvent;
    },
    get failure() {
      return events.failure;
    },
  };
}
