import type { ServerResponse } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import { clientErrorBody, type ClientFormat, type ResponseHead } from '@cpa/contracts';
import { encodeStreamErrorEvent } from '@cpa/formats';
import type { Frame } from '@cpa/transport';

function isHead(meta: unknown): meta is ResponseHead {
  return !!meta && typeof meta === 'object' && typeof (meta as ResponseHead).status === 'number';
}

export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/**
 * Writes reply frames to the client as they arrive: the first frame's head becomes the
 * HTTP status and headers, every body is written straight through. A client that goes
 * away unsubscribes, which cancels the work upstream.
 */
export function relayFrames(frames: Observable<Frame>, res: ServerResponse, format: ClientFormat): Promise<void> {
  return new Promise((resolve) => {
    let finished = false;
    let eventStream = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      res.off('close', onClose);
      resolve();
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
          // Proxies and browsers must not buffer or cache an event stream.
          eventStream = headers['content-type']?.includes('event-stream') ?? false;
          if (eventStream) headers['cache-control'] ??= 'no-cache';
          if (frame.body && !eventStream && isCompleteFrame(frame)) {
            headers['content-length'] = String(frame.body.length);
          }
          res.writeHead(head.status, headers);
          if (typeof res.flushHeaders === 'function' && !frame.body) res.flushHeaders();
        }
        if (frame.body?.length) res.write(frame.body);
      },
      error: (err: unknown) => {
        const status = transportStatus(err);
        if (!res.headersSent) writeJson(res, status, clientErrorBody(format, status, errorMessage(err)));
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
  return 502;
}

function errorMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'deadline') return 'The request timed out before the upstream answered';
  if (e?.code === 'lost') return 'The router lost the process handling this request; retry';
  if (e?.code === 'closed') return 'The router is temporarily unavailable (its message bus is unreachable); retry shortly';
  return e?.message ? `Gateway error: ${e.message}` : 'Gateway error';
}
