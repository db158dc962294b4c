import { JsonArrayFramer, SseFramer, type Frame, type Framer } from '@cpa/formats';

export type Unwrap = (json: unknown) => unknown;

/** One JSON payload unwrapped; text that is not JSON (a proxy's HTML, `[DONE]`) is left as it is. */
export function unwrapJsonText(text: string, unwrap: Unwrap): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text;
  }
  return JSON.stringify(unwrap(json));
}

/** A complete JSON answer unwrapped. */
export function unwrapJsonBytes(bytes: ArrayBuffer | Buffer, unwrap: Unwrap): Buffer {
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : Buffer.from(bytes).toString('utf8');
  return Buffer.from(unwrapJsonText(text, unwrap));
}

/**
 * An upstream stream with every event unwrapped, framed as it came: SSE events stay SSE
 * events (`event:` names kept), a streamed JSON array stays a JSON array. Chunks are
 * yielded as events complete, so the relay still sees the first event as soon as it arrives.
 */
export async function* unwrapStream(source: AsyncIterable<Buffer>, unwrap: Unwrap): AsyncGenerator<Buffer> {
  const utf8 = new TextDecoder();
  let framer: Framer | undefined;
  let jsonArray = false;
  let elements = 0;
  let lead = '';
  let out = '';
  const sink = (frame: Frame) => {
    const data = unwrapJsonText(frame.data, unwrap);
    if (jsonArray) out += (elements++ === 0 ? '[' : ',') + data;
    else out += frame.event ? `event: ${frame.event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
  };
  const take = () => {
    const bytes = Buffer.from(out);
    out = '';
    return bytes;
  };

  for await (const chunk of source) {
    let text = utf8.decode(chunk, { stream: true });
    if (!framer) {
      // The framing shows in the first non-blank character: `[` for a JSON array.
      lead += text;
      const trimmed = lead.trimStart();
      if (!trimmed) continue;
      jsonArray = trimmed.startsWith('[');
      framer = jsonArray ? new JsonArrayFramer() : new SseFramer();
      text = trimmed;
      lead = '';
    }
    framer.push(text, sink);
    if (out) yield take();
  }
  const rest = utf8.decode();
  if (framer) {
    if (rest) framer.push(rest, sink);
    framer.end(sink);
  }
  if (jsonArray) out += elements ? ']' : '[]';
  if (out) yield take();
}

/** Cloud Code Assist's envelope: `{"response": {...}}` (other fields beside it, e.g. traceId, are dropped). */
export function unwrapCodeAssist(json: unknown): unknown {
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const inner = (json as { response?: unknown }).response;
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) return inner;
  }
  return json;
}
