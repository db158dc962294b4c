/**
 * Reply frames and the handler return values the server understands. Brands are global
 * symbols so that a value made by one copy of this module (e.g. built dist vs. source in
 * tests) is still recognised by another.
 */
const FRAME = Symbol.for('@cpa/transport.frame');
const FORWARD = Symbol.for('@cpa/transport.forward');

/** One value frame of a reply: JSON metadata, raw bytes, or both. */
export interface Frame {
  meta?: unknown;
  body?: Buffer;
}

/** Instruction from a handler: hand this request (and the duty to reply) to another queue. */
export interface Forward {
  readonly [FORWARD]: true;
  readonly pattern: string;
  readonly data: unknown;
  /** `undefined` carries the current request body along; `null` drops it. */
  readonly body: Buffer | null | undefined;
  /** Park the request this long before it is queued (a wait that holds no consumer slot). */
  readonly delayMs?: number;
}

export interface ForwardOptions {
  /**
   * Queue the request only after this many ms: it waits in Redis (a delayed set any live
   * consumer of the target queue promotes when due), not in a handler, and its caller is
   * told to expect that silence.
   */
  delayMs?: number;
}

/** Builds a frame a handler can return (or emit) to control meta and body exactly. */
export function frame(meta?: unknown, body?: Buffer): Frame {
  return { [FRAME]: true, meta, body } as Frame;
}

export function isFrame(value: unknown): value is Frame {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FRAME] === true;
}

/**
 * Returned by a handler: the server pushes the request onto `queueOf(pattern)` with the
 * same id, reply address and deadline, so the next service answers the original caller.
 * Without `body` the current request body travels along; pass `null` to drop it.
 */
export function forward(pattern: string, data: unknown, body?: Buffer | null, options?: ForwardOptions): Forward {
  const delayMs = options?.delayMs;
  return (
    delayMs !== undefined && delayMs > 0
      ? { [FORWARD]: true, pattern, data, body, delayMs }
      : { [FORWARD]: true, pattern, data, body }
  ) as Forward;
}

export function isForward(value: unknown): value is Forward {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FORWARD] === true;
}

/** How a handler's value becomes a frame: frames as they are, Buffers as body, anything else as meta. */
export function toFrame(value: unknown): Frame {
  if (isFrame(value)) return value;
  if (Buffer.isBuffer(value)) return { meta: undefined, body: value };
  return { meta: value, body: undefined };
}

/** What a caller learns about a failure: a message and, when the error has one, a numeric status. */
export interface RemoteError {
  message: string;
  status?: number;
}

/**
 * Reduces anything a handler threw (an Error, an RpcException payload such as NestJS's
 * `{ status: 'error', message }`, a string) to a `RemoteError`. Only a numeric status is kept.
 */
export function toRemoteError(error: unknown): RemoteError {
  if (typeof error === 'string') return { message: error };
  if (typeof error === 'object' && error !== null) {
    const { message, status } = error as { message?: unknown; status?: unknown };
    const out: RemoteError = { message: typeof message === 'string' && message !== '' ? message : 'Internal error' };
    if (typeof status === 'number') out.status = status;
    return out;
  }
  return { message: 'Internal error' };
}
