import { createHash } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * Stored request bodies (`RequestMessage.bodyRef`) go in and out over a connection of their
 * own: the caller's store-and-queue script is written with the body as it is, and a reader
 * gets each body straight into a Buffer of its exact size.
 *
 * Why not ioredis: its reply parser (redis-parser) copies every bulk reply that spans two
 * socket reads into one module-wide pool and hands out slices of it. The pool grows with
 * the replies (three times the reply plus what it already holds) and is never released, and
 * each body held pins the pool it came from: an executor that passed on 1 MB bodies kept
 * 30-40 MB of pool after the load ended, the difference between about 130 and 170 MB RSS.
 * And it copies every Buffer argument into one buffer with the command before writing it:
 * a third copy of each 1 MB body in the gateway, at the moment ten of them arrive at once.
 *
 * The connection speaks just enough RESP for that: AUTH and SELECT from the URL, pipelined
 * GETs and EVALSHA (EVAL when Redis does not know the script yet), bulk, null, integer,
 * status and error replies. A lost connection fails the commands in flight (a read: the
 * caller refuses those items as unreadable, they were never acted on; a store: the caller
 * answers 503) and the next command connects again; nothing is sent twice. Cluster URLs keep
 * using ioredis, which knows the slot map.
 */

/** One reply: a bulk string, a null bulk, an integer, a status line (`+OK`), or an error (`-ERR ...`). */
export type RespReply = Buffer | null | number | { status: string } | RespErrorReply;

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
    if (type === ':') {
      if (!/^-?\d+$/.test(rest)) throw new RespProtocolError('invalid integer reply');
      return this.onReply(Number(rest));
    }
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
  return Buffer.concat(encodeCommandParts(args));
}

/** An argument at least this long is written as it is, not copied into the command's bytes. */
const OWN_WRITE_BYTES = 16 * 1024;

/**
 * A command in RESP as the pieces to write one after another: everything is joined into as
 * few Buffers as possible, except Buffer arguments of `OWN_WRITE_BYTES` or more, which are
 * pieces of their own (the very Buffers given, not copies).
 */
export function encodeCommandParts(args: readonly (string | Buffer)[]): Buffer[] {
  const parts: Buffer[] = [];
  let pending: (string | Buffer)[] = [`*${args.length}\r\n`];
  const flush = () => {
    parts.push(Buffer.concat(pending.map((piece) => (typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece))));
    pending = [];
  };
  for (const arg of args) {
    const length = typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
    pending.push(`$${length}\r\n`);
    if (typeof arg !== 'string' && arg.length >= OWN_WRITE_BYTES) {
      flush();
      parts.push(arg);
      pending.push('\r\n');
    } else pending.push(arg, '\r\n');
  }
  flush();
  return parts;
}

/** A Lua script, with the SHA-1 Redis knows it by once loaded. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

export interface BodyConnectionOptions {
  /** A command (or connecting for it) taking longer than this fails, with every command in flight. */
  timeoutMs?: number;
}

interface Pending {
  resolve: (reply: RespReply) => void;
  reject: (err: Error) => void;
}

/**
 * Reads stored bodies and runs the script that stores one, over one connection to a single
 * Redis server (see the top of this file).
 */
export class BodyConnection {
  private socket?: Socket;
  private ready?: Promise<void>;
  private readonly pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly url: URL;
  private readonly timeoutMs: number;

  constructor(url: string, options: BodyConnectionOptions = {}) {
    this.url = new URL(url);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The values of `keys`, in order; null for a key that holds nothing. */
  async read(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    const replies = await this.send([Buffer.concat(keys.map((key) => encodeCommand('GET', key)))], keys.length);
    return replies.map((reply) => {
      if (reply === null || Buffer.isBuffer(reply)) return reply;
      throw new Error(
        reply instanceof RespErrorReply ? `Redis refused GET: ${reply.message}` : 'unexpected reply to GET',
      );
    });
  }

  /**
   * Runs a script (EVALSHA; EVAL when Redis answers NOSCRIPT) and returns its integer reply.
   * Large Buffer arguments are written as they are (`encodeCommandParts`), in one write.
   */
  async evalInteger(script: LuaScript, keys: readonly string[], args: readonly (string | Buffer)[]): Promise<number> {
    const run = async (command: 'EVALSHA' | 'EVAL', source: string) =>
      (await this.send(encodeCommandParts([command, source, String(keys.length), ...keys, ...args]), 1))[0];
    let reply = await run('EVALSHA', script.sha);
    if (reply instanceof RespErrorReply && reply.message.startsWith('NOSCRIPT')) reply = await run('EVAL', script.lua);
    if (typeof reply === 'number') return reply;
    throw new Error(
      reply instanceof RespErrorReply ? `Redis refused the script: ${reply.message}` : 'unexpected reply to a script',
    );
  }

  close(): void {
    this.closed = true;
    this.fail(new Error('body connection closed'));
  }

  /**
   * Writes the pieces of one or more commands in one write (corked: a large body stays a piece
   * of its own) and waits for their `count` replies. Pipelined commands keep their order.
   */
  private async send(pieces: readonly Buffer[], count: number): Promise<RespReply[]> {
    const socket = await this.connected();
    const replies = Array.from({ length: count }, () => this.expect());
    socket.cork();
    for (const piece of pieces) socket.write(piece);
    socket.uncork();
    this.armTimer();
    return Promise.all(replies);
  }

  /** The open connection (opened on first use, again after a loss). */
  private async connected(): Promise<Socket> {
    if (this.closed) throw new Error('body connection closed');
    await (this.ready ??= this.open());
    // The connection failed while this command waited for it to open.
    if (this.socket === undefined) throw new Error('Redis connection closed');
    return this.socket;
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
        const err = new Error(`Redis refused the body connection's handshake: ${reply.message}`);
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
