import type { ServerResponse } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import { clientErrorBody, REQUEST_ID_HEADER, type ClientFormat, type ResponseHead } from '@cpa/contracts';
import { encodeStreamErrorEvent } from '@cpa/formats';
import type { Frame, ReplyFlow } from '@cpa/transport';

function isHead(meta: unknown): meta is ResponseHead {
  return !!meta && typeof meta === 'object' && typeof (meta as ResponseHead).status === 'number';
}

export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.end();
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** How much a client that does not read may cost the gateway. */
export interface RelayLimits {
  /** Bytes written but not yet taken by the client, beyond which the request is aborted (default 4 MiB). */
  bufferLimitBytes?: number;
  /** Longest a client may take nothing while the reply waits (default 30 s); then the request is aborted. */
  stallTimeoutMs?: number;
}

export const DEFAULT_RELAY_LIMITS: Required<RelayLimits> = {
  bufferLimitBytes: 4 * 1024 * 1024,
  stallTimeoutMs: 30_000,
};

/** A 503 the gateway produces: the condition is passing, so the client is told when to come back. */
const RETRY_AFTER_S = '1';

/**
 * Writes reply frames to the client as they arrive: the first frame's head becomes the
 * HTTP status and headers, every body is written straight through. A client that goes
 * away unsubscribes, which cancels the work upstream.
 *
 * Backpressure: when the client stops taking bytes (a write is refused and no drain
 * follows within the tick), `flow` asks the handler of the request to pause, which stops
 * reading the upstream; a drain resumes it. A client that takes nothing for
 * `stallTimeoutMs`, or leaves more than `bufferLimitBytes` unread, is cut off: the
 * request is cancelled (the upstream call aborted) and the connection closed.
 */
export function relayFrames(
  frames: Observable<Frame>,
  res: ServerResponse,
  format: ClientFormat,
  flow?: ReplyFlow,
  limits: RelayLimits = {},
): Promise<void> {
  const bufferLimit = limits.bufferLimitBytes ?? DEFAULT_RELAY_LIMITS.bufferLimitBytes;
  const stallTimeoutMs = limits.stallTimeoutMs ?? DEFAULT_RELAY_LIMITS.stallTimeoutMs;
  return new Promise((resolve) => {
    let finished = false;
    let eventStream = false;
    let waitingForDrain = false;
    let stallTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(stallTimer);
      res.off('close', onClose);
      res.off('drain', onDrain);
      resolve();
    };
    /** The client has not taken what it was sent: stop the work rather than buffer without end. */
    const cutOff = () => {
      subscription.unsubscribe();
      res.destroy();
      finish();
    };
    const onDrain = () => {
      waitingForDrain = false;
      clearTimeout(stallTimer);
      stallTimer = undefined;
      flow?.resume();
    };
    const backpressure = () => {
      if (waitingForDrain) return;
      waitingForDrain = true;
      res.once('drain', onDrain);
      // A whole reply written at once also fills the buffer: only a reply still going on is paused.
      setImmediate(() => {
        if (finished || !waitingForDrain) return;
        flow?.pause();
        stallTimer = setTimeout(cutOff, stallTimeoutMs);
      });
    };
    const onClose = () => {
      if (!res.writableFinished) subscription.unsubscribe();
      finish();
    };
    res.on('close', onClose);
    const subscription: Subscription = frames.subscribe({
      next: (frame) => {
        if (!res.headersSent) {
          const head = isHead(frame.meta) ? frame.meta : { status: 200, headers: {} };
          const headers: Record<string, string> = { ...head.headers };
          // The client gets the gateway's request id, not an upstream's own `x-request-id`.
          const requestId = res.getHeader(REQUEST_ID_HEADER);
          if (typeof requestId === 'string') headers[REQUEST_ID_HEADER] = requestId;
          // Proxies and browsers must not buffer or cache an event stream.
          eventStream = headers['content-type']?.includes('event-stream') ?? false;
          if (eventStream) headers['cache-control'] ??= 'no-cache';
          if (frame.body && !eventStream && isCompleteFrame(frame)) {
            headers['content-length'] = String(frame.body.length);
          }
          res.writeHead(head.status, headers);
          if (typeof res.flushHeaders === 'function' && !frame.body) res.flushHeaders();
        }
        if (res.writableLength > bufferLimit) return cutOff();
        if (frame.body?.length && !res.write(frame.body)) backpressure();
      },
      error: (err: unknown) => {
        const status = transportStatus(err);
        if (!res.headersSent)
          writeJson(
            res,
            status,
            clientErrorBody(format, status, errorMessage(err)),
            status === 503 ? { 'retry-after': RETRY_AFTER_S } : {},
          );
        else if (eventStream) res.end(encodeStreamErrorEvent(format, { status, message: errorMessage(err) }));
        else res.end();
        finish();
      },
      complete: () => {
        res.end();
        finish();
      },
    });
  });
}

/** A non-streamed reply is one frame carrying head and the whole body. */
function isCompleteFrame(frame: Frame): boolean {
  return isHead(frame.meta) && (frame.meta as ResponseHead & { complete?: boolean }).complete === true;
}

function transportStatus(err: unknown): number {
  const e = err as { code?: string; status?: number };
  if (typeof e?.status === 'number') return e.status;
  if (e?.code === 'deadline') return 504;
  // The process holding the request died: nothing more will come, and a retry may well succeed.
  if (e?.code === 'lost') return 503;
  // The transport lost Redis: nothing reached a scheduler, so the client may retry.
  if (e?.code === 'closed') return 503;
  // A full work queue refused the request before anything was done.
  if (e?.code === 'overloaded') return 503;
  return 502;
}

function errorMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'deadline') return 'The request timed out before the upstream answered';
  if (e?.code === 'lost') return 'The router lost the process handling this request; retry';
  if (e?.code === 'closed')
    return 'The router is temporarily unavailable (its message bus is unreachable); retry shortly';
  if (e?.code === 'overloaded') return 'The router is overloaded (its work queue is full); retry shortly';
  return e?.message ? `Gateway error: ${e.message}` : 'Gateway error';
}
