import type { Frame, RemoteError } from './frame';

/**
 * Wire format: one Redis string per message = a JSON header, '\n', then raw bytes.
 * Bodies never pass through JSON (no base64, no escaping); JSON.stringify never emits a
 * raw newline, so the first '\n' always ends the header.
 */
const NL = 0x0a;

export class WireError extends Error {
  override name = 'WireError';
}

/** Encodes `header` and the raw parts (concatenated) into one buffer with a single allocation. */
export function encodeMessage(header: unknown, raw?: Buffer | readonly Buffer[]): Buffer {
  const json = JSON.stringify(header);
  const jsonLength = Buffer.byteLength(json);
  let total = jsonLength + 1;
  if (raw !== undefined) {
    if (Buffer.isBuffer(raw)) total += raw.length;
    else for (const part of raw) total += part.length;
  }
  const out = Buffer.allocUnsafe(total);
  out.write(json, 0, jsonLength, 'utf8');
  out[jsonLength] = NL;
  if (raw !== undefined) {
    if (Buffer.isBuffer(raw)) raw.copy(out, jsonLength + 1);
    else {
      let offset = jsonLength + 1;
      for (const part of raw) offset += part.copy(out, offset);
    }
  }
  return out;
}

/** Splits a message into its parsed header and its raw part (a view, not a copy). */
export function splitMessage(message: Buffer): { header: unknown; raw: Buffer } {
  const nl = message.indexOf(NL);
  if (nl < 0) throw new WireError('message has no header line');
  let header: unknown;
  try {
    header = JSON.parse(message.toString('utf8', 0, nl));
  } catch {
    throw new WireError('message header is not JSON');
  }
  return { header, raw: message.subarray(nl + 1) };
}

/** A request or one-way message on a queue, or a broadcast event. */
export interface RequestMessage {
  id: string;
  pattern: string;
  /** Reply channel of the asking pod; absent for one-way messages and events. */
  replyTo?: string;
  /** Epoch ms after which nobody waits for the answer. */
  deadline?: number;
  data: unknown;
  body?: Buffer;
  /**
   * The body is not in the message: it is stored once in Redis under
   * `transportKeys.body(prefix, id)` (a large body sent by `request()`), and only servers
   * whose handlers read bodies fetch it.
   */
  bodyRef?: boolean;
}

interface RequestHeader {
  id: string;
  pattern: string;
  replyTo?: string;
  deadline?: number;
  data: unknown;
  /** Present when a body follows, so an empty body and no body stay distinct. */
  b?: 1;
  /** The body is stored by reference (`RequestMessage.bodyRef`); no body follows. */
  r?: 1;
}

export function encodeRequest(message: RequestMessage): Buffer {
  const header: RequestHeader = { id: message.id, pattern: message.pattern, data: message.data };
  if (message.replyTo !== undefined) header.replyTo = message.replyTo;
  if (message.deadline !== undefined) header.deadline = message.deadline;
  if (message.bodyRef) {
    if (message.body !== undefined) throw new WireError('a request carries its body or a reference to it, not both');
    header.r = 1;
  } else if (message.body !== undefined) header.b = 1;
  return encodeMessage(header, message.body);
}

export function decodeRequest(message: Buffer): RequestMessage {
  const { header, raw } = splitMessage(message);
  if (typeof header !== 'object' || header === null) throw new WireError('request header is not an object');
  const h = header as Partial<RequestHeader>;
  if (typeof h.id !== 'string' || typeof h.pattern !== 'string')
    throw new WireError('request header lacks id or pattern');
  if (h.replyTo !== undefined && typeof h.replyTo !== 'string') throw new WireError('request replyTo is not a string');
  if (h.deadline !== undefined && typeof h.deadline !== 'number')
    throw new WireError('request deadline is not a number');
  const request: RequestMessage = {
    id: h.id,
    pattern: h.pattern,
    replyTo: h.replyTo,
    deadline: h.deadline,
    data: h.data,
    body: h.b === 1 ? raw : undefined,
  };
  if (h.r === 1) request.bodyRef = true;
  return request;
}

/**
 * A reply message: frames emitted together (coalesced into one Redis command), and/or the
 * end of the reply, an error, or a heartbeat that proves the handler is still alive.
 */
export interface ReplyMessage {
  id: string;
  /** `continued`: the frame's body goes on in the next frame (a body split across messages). */
  frames?: (Frame & { continued?: boolean })[];
  end?: boolean;
  error?: RemoteError;
  heartbeat?: boolean;
  /**
   * With a heartbeat: the request was parked (a delayed re-queue) and nothing will be heard
   * of it for up to this many ms; the caller's idle timeout starts after that.
   */
  quietMs?: number;
}

interface ReplyHeader {
  id: string;
  /** Frames in order: `m` = meta, `n` = length of this frame's body within the raw part, `c` = body continues. */
  f?: Array<{ m?: unknown; n?: number; c?: 1 }>;
  end?: 1;
  err?: RemoteError;
  hb?: 1;
  q?: number;
}

export function encodeReply(reply: ReplyMessage): Buffer {
  const header: ReplyHeader = { id: reply.id };
  let bodies: Buffer[] | undefined;
  if (reply.frames !== undefined && reply.frames.length > 0) {
    header.f = reply.frames.map((f) => {
      const entry: { m?: unknown; n?: number; c?: 1 } = {};
      if (f.meta !== undefined) entry.m = f.meta;
      if (f.continued) entry.c = 1;
      if (f.body !== undefined) {
        entry.n = f.body.length;
        (bodies ??= []).push(f.body);
      }
      return entry;
    });
  }
  if (reply.end) header.end = 1;
  if (reply.error !== undefined) {
    header.err = { message: reply.error.message };
    if (reply.error.status !== undefined) header.err.status = reply.error.status;
  }
  if (reply.heartbeat) header.hb = 1;
  if (reply.quietMs !== undefined) header.q = reply.quietMs;
  return encodeMessage(header, bodies);
}

export function decodeReply(message: Buffer): ReplyMessage {
  const { header, raw } = splitMessage(message);
  if (typeof header !== 'object' || header === null) throw new WireError('reply header is not an object');
  const h = header as ReplyHeader;
  if (typeof h.id !== 'string') throw new WireError('reply header lacks id');
  const reply: ReplyMessage = { id: h.id };
  if (Array.isArray(h.f)) {
    let offset = 0;
    reply.frames = h.f.map((entry) => {
      let body: Buffer | undefined;
      if (typeof entry?.n === 'number') {
        if (entry.n < 0 || offset + entry.n > raw.length) throw new WireError('reply frame length exceeds message');
        body = raw.subarray(offset, offset + entry.n);
        offset += entry.n;
      }
      return entry?.c === 1 ? { meta: entry?.m, body, continued: true } : { meta: entry?.m, body };
    });
  }
  if (h.end === 1) reply.end = true;
  if (typeof h.err === 'object' && h.err !== null) {
    reply.error = { message: typeof h.err.message === 'string' ? h.err.message : 'Remote error' };
    if (typeof h.err.status === 'number') reply.error.status = h.err.status;
  }
  if (h.hb === 1) reply.heartbeat = true;
  if (typeof h.q === 'number' && h.q > 0) reply.quietMs = h.q;
  return reply;
}

/** Most body bytes in one reply message: a larger PUBLISH could overrun a subscriber's output buffer and cut its connection. */
export const MAX_REPLY_BODY_BYTES = 1024 * 1024 - 16 * 1024;

/**
 * A reply as messages of at most `maxBodyBytes` of body each, in order: bodies larger than
 * that are split into parts marked `continued`, which the receiving client joins again.
 * End and error ride on the last message.
 */
export function splitReply(reply: ReplyMessage, maxBodyBytes = MAX_REPLY_BODY_BYTES): ReplyMessage[] {
  const frames = reply.frames ?? [];
  let total = 0;
  for (const f of frames) total += f.body?.length ?? 0;
  if (total <= maxBodyBytes) return [reply];
  const messages: ReplyMessage[] = [];
  let current: NonNullable<ReplyMessage['frames']> = [];
  let room = maxBodyBytes;
  const flush = () => {
    messages.push({ id: reply.id, frames: current });
    current = [];
    room = maxBodyBytes;
  };
  for (const f of frames) {
    let body = f.body;
    let meta = f.meta;
    if (body === undefined || body.length <= room) {
      current.push(f);
      room -= body?.length ?? 0;
      continue;
    }
    while (body.length > room) {
      if (room > 0)
        current.push({ ...(meta !== undefined ? { meta } : {}), body: body.subarray(0, room), continued: true });
      else if (current.length === 0) throw new Error('splitReply: no room in an empty message');
      body = body.subarray(room);
      meta = undefined;
      flush();
    }
    current.push({ ...(meta !== undefined ? { meta } : {}), body, ...(f.continued ? { continued: true } : {}) });
    room -= body.length;
  }
  messages.push({
    id: reply.id,
    frames: current,
    ...(reply.end ? { end: true } : {}),
    ...(reply.error ? { error: reply.error } : {}),
  });
  return messages;
}

/** A cancel broadcast: which request, and until when servers should remember it. */
export interface CancelMessage {
  id: string;
  deadline?: number;
}

export function encodeCancel(cancel: CancelMessage): Buffer {
  return encodeMessage(
    cancel.deadline === undefined ? { id: cancel.id } : { id: cancel.id, deadline: cancel.deadline },
  );
}

export function decodeCancel(message: Buffer): CancelMessage {
  const { header } = splitMessage(message);
  const h = header as Partial<CancelMessage> | null;
  if (typeof h?.id !== 'string') throw new WireError('cancel lacks id');
  return { id: h.id, deadline: typeof h.deadline === 'number' ? h.deadline : undefined };
}

/** A caller's backpressure signal for one streamed reply: pause (the client is not reading) or resume. */
export interface FlowMessage {
  id: string;
  paused: boolean;
}

export function encodeFlow(flow: FlowMessage): Buffer {
  return encodeMessage({ id: flow.id, p: flow.paused ? 1 : 0 });
}

export function decodeFlow(message: Buffer): FlowMessage {
  const { header } = splitMessage(message);
  const h = header as { id?: unknown; p?: unknown } | null;
  if (typeof h?.id !== 'string') throw new WireError('flow message lacks id');
  return { id: h.id, paused: h.p === 1 };
}
