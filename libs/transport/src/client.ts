import { randomBytes } from 'node:crypto';
import { OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { Observable, Subscriber } from 'rxjs';
import type { Frame } from './frame';
import { isRedisClusterUrl, keyPrefixFor, queueOf } from '@cpa/contracts';
import { BodyConnection } from './body-connection';
import { transportKeys } from './keys';
import { closeConnection, createRedis, onMessage, publish, RedisConnection, subscribe } from './connection';
import { DEFAULT_BODY_REF_MIN_BYTES, DEFAULT_QUEUE_LIMIT, RedisTransportClientOptions } from './options';
import { PUSH_WITH_BODY_SCRIPT, ScriptedRedis, withScripts } from './scripts';
import { TransportError } from './transport-error';
import { decodeReply, encodeCancel, encodeFlow, encodeRequest, ReplyMessage } from './wire';

export interface RequestOptions {
  /** Raw request body; reaches the handler byte-exact through `ctx.getBody()`. */
  body?: Buffer;
  /** Absolute deadline, epoch ms (default: now + the client's `defaultDeadlineMs`). */
  deadline?: number;
  /** Lets the caller pause and resume a streamed reply (backpressure from a slow reader). */
  flow?: ReplyFlow;
}

/**
 * Backpressure handle of one request: `pause()` asks whichever server holds the request
 * (also after forwards) to stop producing; its handler sees `ctx.whenWritable()` pending
 * until `resume()`. Only state changes are sent.
 */
export class ReplyFlow {
  private send?: (paused: boolean) => void;
  private state = false;

  get paused(): boolean {
    return this.state;
  }

  pause(): void {
    this.set(true);
  }

  resume(): void {
    this.set(false);
  }

  /** @internal the client binds the handle to its request. */
  bind(send: (paused: boolean) => void): void {
    this.send = send;
  }

  private set(paused: boolean): void {
    if (this.state === paused) return;
    this.state = paused;
    this.send?.(paused);
  }
}

export interface EnqueueOptions {
  /** Absolute deadline, epoch ms, after which consumers skip the message (default: none). */
  deadline?: number;
}

export interface BatchOptions {
  /** Longest a value waits for others before its batch is sent (default 5 ms). */
  maxDelayMs?: number;
  /** A batch this large is sent at once (default 256). */
  maxItems?: number;
}

/** Values collected for one pattern, sent as a single one-way message. */
class Batch {
  values: unknown[] = [];
  timer?: NodeJS.Timeout;

  constructor(readonly pattern: string) {}
}

/** A request waiting for its reply. */
class Call {
  timer?: NodeJS.Timeout;
  lastSeen: number;
  settled = false;
  /** The parts so far of a frame whose body was split across reply messages. */
  partial?: { meta: unknown; parts: Buffer[] };
  /** Key of the body stored by reference, deleted when the call settles. */
  bodyKey?: string;

  constructor(
    readonly id: string,
    readonly pattern: string,
    readonly deadline: number,
    readonly subscriber: Subscriber<Frame>,
  ) {
    this.lastSeen = Date.now();
  }
}

type Listener = [event: string, callback: (...args: unknown[]) => void];

/** A stored body outlives its request's deadline by this much, for servers whose clock runs behind. */
const BODY_TTL_MARGIN_MS = 5_000;

/**
 * Client side of the Redis transport: requests go to a queue (one consumer handles each),
 * replies come back on this pod's own channel.
 */
export class RedisTransportClient extends ClientProxy<Record<string, Listener[1]>> implements OnApplicationShutdown {
  readonly podId: string;
  readonly replyChannel: string;
  private readonly prefix: string;
  private readonly defaultDeadlineMs: number;
  private readonly idleTimeoutMs: number | undefined;
  private readonly queueLimit: number;
  private readonly bodyRefMinBytes: number;
  private refused = 0;

  private cmd?: ScriptedRedis;
  private sub?: RedisConnection;
  /** Stores large bodies without ioredis's copy of each into its command (body-connection.ts); not on a cluster. */
  private bodies?: BodyConnection;
  private connecting?: Promise<void>;
  private connected = false;
  private readonly calls = new Map<string, Call>();
  private readonly listeners: Listener[] = [];
  private seq = 0;
  private idleTimer?: NodeJS.Timeout;
  private readonly batches = new Set<Batch>();

  private readonly onDeadline = (call: Call) => {
    this.settle(call, true);
    call.subscriber.error(new TransportError('deadline', `no complete reply to ${call.pattern} before its deadline`));
  };

  constructor(private readonly options: RedisTransportClientOptions) {
    super();
    this.prefix = keyPrefixFor(options.redisUrl, options.keyPrefix);
    this.podId = options.podId ?? randomBytes(8).toString('hex');
    this.replyChannel = transportKeys.reply(this.prefix, this.podId);
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? 120_000;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.bodyRefMinBytes = options.bodyRefMinBytes ?? DEFAULT_BODY_REF_MIN_BYTES;
  }

  /** Requests and one-way messages this client had refused because their queue was full. */
  get refusedCount(): number {
    return this.refused;
  }

  /** Opens the connections and subscribes to this pod's reply channel; safe to call repeatedly. */
  connect(): Promise<void> {
    this.connecting ??= this.open().catch((err: unknown) => {
      this.connecting = undefined;
      this.cmd?.disconnect();
      this.sub?.disconnect();
      throw err;
    });
    return this.connecting;
  }

  /**
   * Sends a request to the queue of `pattern` and streams the reply frames. The Observable
   * completes at the end frame and errors with a `TransportError` on a remote error, the
   * deadline, or a closed client. Unsubscribing early cancels the request at its handler.
   * Subscribe once: the body goes with the first subscription and is let go of then.
   */
  request(pattern: string, data: unknown, options?: RequestOptions): Observable<Frame> {
    // Read out here: the closures below keep what they name until the reply ends, and
    // `options` would keep the body (see below).
    const givenDeadline = options?.deadline;
    const flow = options?.flow;
    let body = options?.body;
    return new Observable<Frame>((subscriber) => {
      const id = this.nextId();
      const deadline = givenDeadline ?? Date.now() + this.defaultDeadlineMs;
      const call = new Call(id, pattern, deadline, subscriber);
      this.calls.set(id, call);
      call.timer = setTimeout(this.onDeadline, Math.max(0, deadline - Date.now()), call);
      // The body is let go of as soon as it is on its way: every closure of this request shares
      // one scope, and a 1 MB body held until the reply ends is 10 MB per 10 requests in flight.
      // A large body is stored once and referenced: a server that only routes never receives it.
      const byReference = body !== undefined && this.bodyRefMinBytes > 0 && body.length >= this.bodyRefMinBytes;
      const item = encodeRequest({
        id,
        pattern,
        replyTo: this.replyChannel,
        deadline,
        data,
        ...(byReference ? { bodyRef: true } : { body }),
      });
      if (!byReference) body = undefined;
      const send = () => {
        if (body === undefined) return this.push(pattern, item);
        const stored = body;
        body = undefined;
        return this.pushWithBody(call, item, stored, deadline);
      };
      const failed = (err: unknown) => {
        if (call.settled) return;
        this.settle(call, false);
        subscriber.error(
          err instanceof TransportError
            ? err
            : new TransportError(
                'closed',
                `could not send ${pattern}: ${err instanceof Error ? err.message : String(err)}`,
              ),
        );
      };
      // Redis away (its connections reconnecting): fail now, not when the idle timeout ends a
      // request that was never sent (the gateway answers 503 at once).
      if (this.connected && !this.redisReady())
        failed(new TransportError('closed', `could not send ${pattern}: Redis is unreachable`));
      else if (this.connected) send().catch(failed);
      else
        this.connect()
          .then(() => (call.settled ? undefined : send()))
          .catch(failed);
      flow?.bind((paused) => {
        if (!call.settled && this.connected)
          publish(this.cmd!, transportKeys.flow(this.prefix), encodeFlow({ id, paused })).catch(() => undefined);
      });
      return () => this.settle(call, true);
    });
  }

  /** One-way message to one consumer of the pattern's queue; the handler's return value is ignored. */
  async enqueue(pattern: string, data: unknown, body?: Buffer, options?: EnqueueOptions): Promise<void> {
    await this.connect();
    const item = encodeRequest({ id: this.nextId(), pattern, deadline: options?.deadline, data, body });
    await this.push(pattern, item);
  }

  /** Queues an item unless its queue is full (then `TransportError('overloaded')`, 503, counted). */
  private async push(pattern: string, item: Buffer): Promise<void> {
    const queue = queueOf(pattern);
    const pushed = await this.cmd!.transportPush(
      transportKeys.queue(this.prefix, queue),
      transportKeys.refused(this.prefix, queue),
      this.queueLimit,
      item,
    );
    if (pushed === 1) return;
    this.refused++;
    throw new TransportError('overloaded', `the ${queue} queue is full; retry shortly`, 503);
  }

  /**
   * Stores the body (until the deadline, with a margin for clock differences between the
   * servers that read it) and queues the request, in one script. The call deletes the body
   * when it settles; the TTL covers a caller that died first.
   */
  private async pushWithBody(call: Call, item: Buffer, body: Buffer, deadline: number): Promise<void> {
    const queue = queueOf(call.pattern);
    const key = transportKeys.body(this.prefix, call.id);
    const ttlMs = Math.max(0, deadline - Date.now()) + BODY_TTL_MARGIN_MS;
    const keys = [transportKeys.queue(this.prefix, queue), transportKeys.refused(this.prefix, queue), key] as const;
    const pushed = this.bodies
      ? await this.bodies.evalInteger(PUSH_WITH_BODY_SCRIPT, keys, [String(this.queueLimit), item, body, String(ttlMs)])
      : await this.cmd!.transportPushWithBody(...keys, this.queueLimit, item, body, ttlMs);
    if (pushed !== 1) {
      this.refused++;
      throw new TransportError('overloaded', `the ${queue} queue is full; retry shortly`, 503);
    }
    // Settled while the push was on its way (cancelled, deadline): nobody deletes it later.
    if (call.settled) this.cmd!.del(key).catch(() => undefined);
    else call.bodyKey = key;
  }

  /**
   * A sender of one-way messages to `pattern` that are collected and sent together: the
   * handler receives an array of the values sent within `maxDelayMs` of the first. For
   * high-rate reports, where one queue item per value would cost the consumer a pop and a
   * handler call each. Values still waiting are sent when the client closes.
   */
  batch<T>(pattern: string, options: BatchOptions = {}): (value: T) => void {
    const maxDelayMs = options.maxDelayMs ?? 5;
    const maxItems = Math.max(1, options.maxItems ?? 256);
    const batch = new Batch(pattern);
    this.batches.add(batch);
    const flush = () => void this.sendBatch(batch);
    return (value) => {
      batch.values.push(value);
      if (batch.values.length >= maxItems) flush();
      else if (batch.timer === undefined) batch.timer = setTimeout(flush, maxDelayMs).unref();
    };
  }

  async close(): Promise<void> {
    // Batched one-way messages still waiting leave before the connection goes.
    if (this.connecting !== undefined) await Promise.all([...this.batches].map((b) => this.sendBatch(b)));
    this.failAll('transport client closed');
    clearInterval(this.idleTimer);
    this.connected = false;
    this.connecting = undefined;
    const connections = [this.cmd, this.sub];
    this.cmd = this.sub = undefined;
    this.bodies?.close();
    this.bodies = undefined;
    await Promise.allSettled(connections.map(closeConnection));
    this._status$.next('disconnected');
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  override on(event: string, callback: Listener[1]): void {
    this.listeners.push([event, callback]);
    this.cmd?.on(event, callback);
    this.sub?.on(event, callback);
  }

  unwrap<T>(): T {
    return { cmd: this.cmd, sub: this.sub } as T;
  }

  /** Both connections are up (they reconnect by themselves after Redis comes back). */
  private redisReady(): boolean {
    return this.cmd?.status === 'ready' && this.sub?.status === 'ready';
  }

  /** Requests still waiting for the end of their reply. */
  get pending(): number {
    return this.calls.size;
  }

  /** NestJS `send()`: each frame becomes its meta (or its body when it carries only bytes). */
  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const subscription = this.request(this.normalizePattern(packet.pattern), packet.data).subscribe({
      next: (f) => callback({ response: f.meta === undefined && f.body !== undefined ? f.body : f.meta }),
      error: (err: unknown) => callback({ err }),
      complete: () => callback({ isDisposed: true }),
    });
    return () => subscription.unsubscribe();
  }

  /** NestJS `emit()`: a broadcast every server with a matching @EventPattern handler receives. */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    await this.connect();
    const pattern = this.normalizePattern(packet.pattern);
    await publish(
      this.cmd!,
      transportKeys.event(this.prefix, pattern),
      encodeRequest({ id: this.nextId(), pattern, data: packet.data }),
    );
    return undefined as T;
  }

  private async open(): Promise<void> {
    const url = this.options.redisUrl;
    // A command in flight when the connection drops fails instead of being sent again: a
    // re-sent LPUSH would queue the same request twice.
    // A large body is written on its own: batched with others, ioredis would copy it once more into the pipeline's buffer.
    const cmd = (this.cmd = withScripts(
      createRedis(url, {
        lazyConnect: true,
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: ['transportPushWithBody'],
        autoResendUnfulfilledCommands: false,
      }),
    ));
    const sub = (this.sub = createRedis(url, { lazyConnect: true }));
    if (!isRedisClusterUrl(url)) this.bodies = new BodyConnection(url);
    for (const connection of [cmd, sub]) {
      connection.on('error', () => undefined); // surfaced through failed commands and lost replies
      for (const [event, callback] of this.listeners) connection.on(event, callback);
    }
    onMessage(sub, (_channel, message) => this.onReply(message));
    // Frames published while the subscription is down are gone: waiting for them would only hang.
    sub.on('close', () => this.failAll('reply channel connection lost'));
    await Promise.all([cmd.connect(), sub.connect()]);
    await subscribe(sub, this.replyChannel);
    this.connected = true;
    if (this.idleTimeoutMs !== undefined && this.idleTimeoutMs > 0) {
      this.idleTimer = setInterval(() => this.checkIdle(), Math.max(10, Math.min(1000, this.idleTimeoutMs / 4)));
      this.idleTimer.unref();
    }
    this._status$.next('connected');
  }

  private async sendBatch(batch: Batch): Promise<void> {
    clearTimeout(batch.timer);
    batch.timer = undefined;
    if (batch.values.length === 0) return;
    const values = batch.values;
    batch.values = [];
    await this.enqueue(batch.pattern, values).catch(() => undefined); // one-way: lost like an item of a crashed consumer
  }

  private onReply(message: Buffer): void {
    let reply: ReplyMessage;
    try {
      reply = decodeReply(message);
    } catch {
      return; // not ours to understand; the caller's deadline still holds
    }
    const call = this.calls.get(reply.id);
    if (call === undefined) return;
    // A parked request (delayed re-queue) stays silent for quietMs: its idle timeout starts after that.
    call.lastSeen = Date.now() + (reply.quietMs ?? 0);
    const terminal = reply.end === true || reply.error !== undefined;
    // Settle first: a subscriber that unsubscribes inside next() must not broadcast a cancel for a finished reply.
    if (terminal) this.settle(call, false);
    const { subscriber } = call;
    if (reply.frames !== undefined) {
      for (const f of reply.frames) {
        if (subscriber.closed) return;
        const frame = joinParts(call, f);
        if (frame !== undefined) subscriber.next(frame);
      }
    }
    if (reply.error !== undefined)
      subscriber.error(new TransportError('remote', reply.error.message, reply.error.status));
    else if (reply.end) subscriber.complete();
  }

  /** Forgets a call; `cancel` tells whichever server holds it to stop. */
  private settle(call: Call, cancel: boolean): void {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    this.calls.delete(call.id);
    // Nobody reads a settled request's body again: no retry, no redelivery.
    if (call.bodyKey !== undefined && this.connected) this.cmd!.del(call.bodyKey).catch(() => undefined);
    if (cancel && this.connected) {
      publish(
        this.cmd!,
        transportKeys.cancel(this.prefix),
        encodeCancel({ id: call.id, deadline: call.deadline }),
      ).catch(() => undefined);
    }
  }

  private failAll(message: string): void {
    for (const call of [...this.calls.values()]) {
      this.settle(call, true);
      call.subscriber.error(new TransportError('closed', message));
    }
  }

  private checkIdle(): void {
    const limit = Date.now() - this.idleTimeoutMs!;
    for (const call of [...this.calls.values()]) {
      if (call.lastSeen < limit) {
        this.settle(call, true);
        call.subscriber.error(
          new TransportError('lost', `no reply frame to ${call.pattern} for ${this.idleTimeoutMs} ms`),
        );
      }
    }
  }

  private nextId(): string {
    return `${this.podId}.${(++this.seq).toString(36)}`;
  }
}

/** A frame as the handler emitted it, once every part of a split body has arrived (undefined until then). */
function joinParts(call: Call, f: Frame & { continued?: boolean }): Frame | undefined {
  if (f.continued) {
    if (call.partial === undefined) call.partial = { meta: f.meta, parts: [] };
    if (f.body !== undefined) call.partial.parts.push(f.body);
    return undefined;
  }
  if (call.partial === undefined) return f;
  const { meta, parts } = call.partial;
  call.partial = undefined;
  if (f.body !== undefined) parts.push(f.body);
  return meta === undefined ? { body: Buffer.concat(parts) } : { meta, body: Buffer.concat(parts) };
}
