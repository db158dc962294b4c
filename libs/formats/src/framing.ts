/**
 * Incremental framing of upstream byte streams into JSON payload strings: SSE
 * (`event:`/`data:` lines, blank-line separated) and the bare JSON array Gemini streams
 * when `alt=sse` is absent. Both accept chunks split at any byte.
 */
export interface Frame {
  event?: string;
  data: string;
}

export type FrameSink = (frame: Frame) => void;

export interface Framer {
  push(chunk: string, sink: FrameSink): void;
  end(sink: FrameSink): void;
}

/** Largest single event a framer holds: an upstream that never ends its line must not exhaust memory. */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class FramingError extends Error {
  override readonly name = 'FramingError';
}

export class SseFramer implements Framer {
  private pending = '';
  private event: string | undefined;
  private data: string | undefined;

  push(chunk: string, sink: FrameSink): void {
    const text = this.pending.length ? this.pending + chunk : chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(text, start, end, sink);
      start = nl + 1;
    }
    this.pending = start < text.length ? text.slice(start) : '';
    if (this.pending.length + (this.data?.length ?? 0) > MAX_EVENT_CHARS) {
      throw new FramingError(`upstream stream event exceeds ${MAX_EVENT_CHARS} characters`);
    }
  }

  end(sink: FrameSink): void {
    if (this.pending.length) {
      const p = this.pending;
      this.pending = '';
      this.line(p, 0, p.length, sink);
    }
    this.dispatch(sink);
  }

  private line(text: string, start: number, end: number, sink: FrameSink): void {
    if (start === end) return this.dispatch(sink);
    const first = text.charCodeAt(start);
    if (first === 58 /* ':' comment */) return;
    const colon = text.indexOf(':', start);
    const fieldEnd = colon < 0 || colon > end ? end : colon;
    let valueStart = fieldEnd + 1;
    if (valueStart < end && text.charCodeAt(valueStart) === 32) valueStart++;
    const value = fieldEnd === end ? '' : text.slice(valueStart, end);
    const field = text.slice(start, fieldEnd);
    if (field === 'data') this.data = this.data === undefined ? value : this.data + '\n' + value;
    else if (field === 'event') this.event = value;
  }

  private dispatch(sink: FrameSink): void {
    if (this.data !== undefined) sink({ event: this.event, data: this.data });
    this.data = undefined;
    this.event = undefined;
  }
}

/** Splits a streamed JSON array `[{...},{...}]` into its top-level element texts. */
export class JsonArrayFramer implements Framer {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private buf = '';
  private elementStart = -1;

  push(chunk: string, sink: FrameSink): void {
    const text = this.buf + chunk;
    const base = this.buf.length;
    let elementStart = this.elementStart;
    for (let i = base; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
        continue;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) {
        if (this.depth === 1 && c === 123) elementStart = i;
        this.depth++;
      } else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 1 && c === 125 && elementStart >= 0) {
          sink({ data: text.slice(elementStart, i + 1) });
          elementStart = -1;
        }
      }
    }
    if (elementStart >= 0) {
      this.buf = text.slice(elementStart);
      this.elementStart = 0;
    } else {
      this.buf = '';
      this.elementStart = -1;
    }
  }

  end(): void {
    this.buf = '';
  }
}

/** Gemini answers `[`-framed JSON without alt=sse and SSE with it: decide on the first byte. */
export class AutoFramer implements Framer {
  private inner: Framer | undefined;

  push(chunk: string, sink: FrameSink): void {
    if (!this.inner) {
      const trimmed = chunk.trimStart();
      if (!trimmed.length) return;
      this.inner = trimmed.charCodeAt(0) === 91 ? new JsonArrayFramer() : new SseFramer();
      chunk = trimmed;
    }
    this.inner.push(chunk, sink);
  }

  end(sink: FrameSink): void {
    this.inner?.end(sink);
  }
}

export function sseEvent(event: string | undefined, data: unknown): string {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return event ? `event: ${event}\ndata: ${json}\n\n` : `data: ${json}\n\n`;
}
