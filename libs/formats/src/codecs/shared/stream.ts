import type { CanonicalError, StopReason, StreamEvent, Usage } from '../../canonical';
import { mergeUsage, type StreamEncoder } from '../../codec';
import type { Frame } from '../../framing';
import type { Json } from '../../util';

/** A frame's JSON payload, or undefined for frames that are not JSON (keep-alives, partial garbage). */
export function frameJson(f: Frame): Json | undefined {
  try {
    return JSON.parse(f.data) as Json;
  } catch {
    return undefined;
  }
}

/** Gemini reports STOP even after function calls; clients of the other formats key tool handling off tool_use. */
export function toolAwareStop(stop: StopReason, sawTool: boolean): StopReason {
  return sawTool && stop === 'end_turn' ? 'tool_use' : stop;
}

export type StartEvent = Extract<StreamEvent, { type: 'start' }>;
export type ContentEvent = Extract<StreamEvent, { type: 'text' | 'reasoning' | 'tool_call' }>;

/**
 * What every client stream encoder does alike: the stop reason and usage are held for the
 * format's closing frames, `done`/end() close the stream once, and nothing is written after the
 * end or an error. Subclasses render the start, content deltas, closing frames and errors.
 */
export abstract class StreamEncoderBase implements StreamEncoder {
  /** Set by subclasses once they wrote their first frame. */
  protected started = false;
  protected finished = false;
  protected stop: StopReason = 'end_turn';
  protected stopSequence: string | undefined;
  protected usage: Usage | undefined;

  write(ev: StreamEvent): string {
    if (this.finished) return '';
    switch (ev.type) {
      case 'start':
        if (ev.usage) this.usage = mergeUsage(this.usage, ev.usage);
        return this.start(ev);
      case 'finish':
        this.stop = ev.reason;
        this.stopSequence = ev.stopSequence;
        return '';
      case 'usage':
        this.usage = mergeUsage(this.usage, ev.usage);
        return '';
      case 'done':
        return this.end();
      case 'error':
        this.finished = true;
        return this.error(ev.error);
      default:
        return this.content(ev);
    }
  }

  end(): string {
    if (this.finished || !this.begun()) return '';
    this.finished = true;
    return this.closeStream();
  }

  /** Whether the stream has begun: one that never began has nothing to close. */
  protected begun(): boolean {
    return this.started;
  }

  /** The format's closing frames, carrying the held stop reason and usage. */
  protected abstract closeStream(): string;
  protected abstract start(ev: StartEvent): string;
  protected abstract content(ev: ContentEvent): string;
  protected abstract error(error: CanonicalError): string;
}
