import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * Stored request bodies (`RequestMessage.bodyRef`) are read over a connection of their own,
 * each straight into a Buffer of its exact size.
 *
 * Why not ioredis: its reply parser (redis-parser) copies every bulk reply that spans two
 * socket reads into one module-wide pool and hands out slices of it. The pool grows with
 * the replies (three times the reply plus what it already holds) and is never released, and
 * each body held pins the pool it came from: an executor that passed on 1 MB bodies kept
 * 30-40 MB of pool after the load ended, the difference between about 130 and 170 MB RSS.
 *
 * The connection speaks just enough RESP for GET: AUTH and SELECT from the URL, pipelined
 * GETs, bulk, null, status and error replies. A lost connection fails the reads in flight
 * (the caller refuses those items as unreadable; they were never acted on) and the next read
 * connects again. Cluster URLs keep using ioredis, which knows the slot map.
 */

/** One reply: a bulk string, a null bulk, a status line (`+OK`), or an error (`-ERR ...`). */
export type RespReply = Buffer | null | { status: string } | RespErrorReply;

export class RespErrorReply {
  constructor(readonly message: string) {}
}

export class RespProtocolError extends Error {
  override name = 'RespProtocolError';
}

const CR = 0x0d;
const LF = 0x0a;
/** A type-and-length line is short; anything longer is not a reply to GET, AUTH or SELECT. */
const MAX_LINE = 64 * 1024;
/**
 * A plain TCP connection reads every chunk into one buffer of this size (`onread`), so a
 * 1 MB body leaves no 64 KB chunks behind for the garbage collector: only the body's own
 * Buffer. Under 1 MB bodies those chunks were much of an executor's peak memory.
 */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Splits the bytes of a connection into replies (I/O-free). A bulk's bytes are copied once,
 * from the socket's chunks into a Buffer of the bulk's size. Nothing keeps a chunk after
 * `feed` returns, so the connection can read every chunk into the same buffer.
 */
export class RespReplyParser {
  private line: Buffer[] = [];
  private lineLength = 0;
  /** The bulk being filled, and how much of it (plus its CRLF) is still to come. */
  private bulk?: Buffer;
  private bulkFilled = 0;
  private crlfLeft = 0;

  constructor(private readonly onReply: (reply: RespReply) => void) {}

  /** Feeds the next chunk; throws RespProtocolError when the bytes are not RESP this parser knows. */
  feed(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.bulk !== undefined) {
        const take = Math.min(this.bulk.length - this.bulkFilled, n - i);
        chunk.copy(this.bulk, this.bulkFilled, i, i + take);
        this.bulkFilled += take;
        i += take;
        if (this.bulkFilled < this.bulk.length) return;
        const done = this.bulk;
        this.bulk = undefined;
        this.crlfLeft = 2;
        this.onReply(done);
        continue;
      }
      if (this.crlfLeft > 0) {
        const expected = this.crlfLeft === 2 ? CR : LF;
        if (chunk[i] !== expected) throw new RespProtocolError('bulk reply not followed by CRLF');
        this.crlfLeft--;
        i++;
        continue;
      }
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        // Copied: the rest of the line comes in a later chunk, read into the same memory.
        this.appendLine(Buffer.from(chunk.subarray(i)));
        return;
      }
      this.appendLine(chunk.subarray(i, lf + 1));
      i = lf + 1;
      this.onLine(this.takeLine());
    }
  }

  private appendLine(part: Buffer): void {
    this.lineLength += part.length;
    if (this.lineLength > MAX_LINE) throw new RespProtocolError('reply line too long');
    this.line.push(part);
  }

  private takeLine(): string {
    const bytes = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineLength);
    this.line = [];
    this.lineLength = 0;
    if (bytes.length < 2 || bytes[bytes.length - 2] !== CR) throw new RespProtocolError('reply line without CRLF');
    return bytes.toString('utf8', 0, bytes.length - 2);
  }

  private onLine(line: string): void {
    const type = line[0];
    const rest = line.slice(1);
    if (type === '+') return this.onReply({ status: rest });
    if (type === '-') return this.onReply(new RespErrorReply(rest));
    if (type !== '$') throw new RespProtocolError(`unexpected reply type ${JSON.stringify(type ?? '')}`);
    if (!/^(?:-1|\d+)$/.test(rest)) throw new RespProtocolError('invalid bulk length');
    const length = Number(rest);
    if (length < 0) return this.onReply(null);
    if (length === 0) {
      this.crlfLeft = 2;
      return this.onReply(Buffer.alloc(0));
    }
    this.bulk = Buffer.allocUnsafeSlow(length);
    this.bulkFilled = 0;
  }
}

/** A command in RESP (an array of bulk strings). */
export function encodeCommand(...args: string[]): Buffer {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return Buffer.from(text, 'utf8');
}

export interface BodyReaderOptions {
  /** A read (or connecting for it) taking longer than this fails, with every read in flight. */
  timeoutMs?: number;
}

interface Pending {
  resolve: (reply: RespReply) => void;
  reject: (err: Error) => void;
}

/** Reads values by key over one connection to a single Redis server (see the top of this file). */
export class BodyReader {
  private socket?: Socket;
  private ready?: Promise<void>;
  private readonly pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly url: URL;
  private readonly timeoutMs: number;

  constructor(url: string, options: BodyReaderOptions = {}) {
    this.url = new URL(url);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The values of `keys`, in order; null for a key that holds nothing. */
  async read(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    if (this.closed) throw new Error('body reader closed');
    await (this.ready ??= this.open());
    const socket = this.socket;
    // The connection failed while this read waited for it to open.
    if (socket === undefined) throw new Error('Redis connection closed');
    const replies = keys.map(() => this.expect());
    socket.write(Buffer.concat(keys.map((key) => encodeCommand('GET', key))));
    this.armTimer();
    return (await Promise.all(replies)).map((reply) => {
      if (reply === null || Buffer.isBuffer(reply)) return reply;
      throw new Error(
        reply instanceof RespErrorReply ? `Redis refused GET: ${reply.message}` : 'unexpected reply to GET',
      );
    });
  }

  close(): void {
    this.closed = true;
    this.fail(new Error('body reader closed'));
  }

  private expect(): Promise<RespReply> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  private async open(): Promise<void> {
    const { hostname, port, protocol, username, password, pathname } = this.url;
    const options = { host: hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(port || 6379) };
    const parser = new RespReplyParser((reply) => this.onReply(reply));
    // Events of a connection already given up must not touch its successor.
    const failCurrent = (err: Error) => {
      if (this.socket === socket) this.fail(err);
    };
    const feed = (chunk: Buffer) => {
      try {
        parser.feed(chunk);
      } catch (err) {
        failCurrent(err as Error);
      }
    };
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket =
      protocol === 'rediss:'
        ? connectTls({ ...options, servername: options.host }).on('data', feed)
        : connectTcp({
            ...options,
            onread: {
              buffer: readBuffer,
              callback: (n) => {
                feed(readBuffer.subarray(0, n));
                return true;
              },
            },
          });
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('error', failCurrent);
    socket.on('close', () => failCurrent(new Error('Redis connection closed')));
    // Handshake replies are checked here; GETs queue behind them on the same connection.
    const handshake: Promise<RespReply>[] = [];
    const commands: Buffer[] = [];
    if (password) {
      const args = username
        ? [decodeURIComponent(username), decodeURIComponent(password)]
        : [decodeURIComponent(password)];
      commands.push(encodeCommand('AUTH', ...args));
      handshake.push(this.expect());
    }
    const db = Number(pathname.slice(1) || 0);
    if (db > 0) {
      commands.push(encodeCommand('SELECT', String(db)));
      handshake.push(this.expect());
    }
    if (commands.length === 0) return;
    socket.write(Buffer.concat(commands));
    this.armTimer();
    for (const reply of await Promise.all(handshake))
      if (reply instanceof RespErrorReply) {
        const err = new Error(`Redis refused the body reader's handshake: ${reply.message}`);
        this.fail(err);
        throw err;
      }
  }

  private onReply(reply: RespReply): void {
    const next = this.pending.shift();
    if (next === undefined) return this.fail(new Error('reply without a request'));
    next.resolve(reply);
    if (this.pending.length === 0) this.clearTimer();
    else this.armTimer();
  }

  /** Every read in flight fails and the connection goes; the next read opens a new one. */
  private fail(err: Error): void {
    this.clearTimer();
    const socket = this.socket;
    this.socket = undefined;
    this.ready = undefined;
    socket?.destroy();
    for (let item = this.pending.shift(); item !== undefined; item = this.pending.shift()) item.reject(err);
  }

  /** The oldest read in flight gets `timeoutMs` from the latest progress. */
  private armTimer(): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.fail(new Error('Redis did not answer in time')), this.timeoutMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
