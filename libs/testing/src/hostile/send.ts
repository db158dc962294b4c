import { connect } from 'node:net';
import type { HostileRequest } from './generate';

export interface RawOutcome {
  /** HTTP status, or undefined when the connection ended without a status line. */
  status?: number;
  /** The server closed or reset the connection before answering (a refusal, not a hang). */
  reset?: boolean;
  /** No complete answer within the time limit. */
  hung?: boolean;
  /** First bytes of the answer, for failure messages. */
  head: string;
}

/**
 * Sends one request byte for byte over a fresh connection (`Connection: close`) and reads
 * until the server closes it. Nothing is normalised: odd targets and headers go out as given.
 */
export function sendRaw(port: number, request: HostileRequest, timeoutMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: Omit<RawOutcome, 'head' | 'status'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).subarray(0, 512).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ ...outcome, ...(status ? { status: Number(status) } : {}), head: text.slice(0, 200) });
    };
    const timer = setTimeout(() => finish({ hung: true }), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(chunks.length ? {} : { reset: true }));
    socket.on('error', () => finish(chunks.length ? {} : { reset: true }));
    socket.on('connect', () => {
      const lines = [`${request.method} ${request.target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
      for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
      if (request.body !== undefined)
        lines.push(request.chunked ? 'transfer-encoding: chunked' : `content-length: ${request.body.length}`);
      socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
      if (request.body === undefined) return;
      if (!request.chunked) socket.write(request.body);
      else {
        for (let offset = 0; offset < request.body.length; offset += 16 * 1024) {
          const part = request.body.subarray(offset, offset + 16 * 1024);
          socket.write(`${part.length.toString(16)}\r\n`);
          socket.write(part);
          socket.write('\r\n');
        }
        socket.write('0\r\n\r\n');
      }
    });
  });
}

/** Runs `requests` with at most `concurrency` in flight; outcomes in request order. */
export async function sendAll(
  port: number,
  requests: HostileRequest[],
  concurrency: number,
  timeoutMs: number,
): Promise<RawOutcome[]> {
  const outcomes: RawOutcome[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const index = next++;
      outcomes[index] = await sendRaw(port, requests[index]!, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}
