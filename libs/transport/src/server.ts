import { randomBytes } from 'node:crypto';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { Redis } from 'ioredis';
import { isObservable, Subscription } from 'rxjs';
import { RedisTransportContext } from './context';
import { closeConnection } from './connection';
import { Forward, Frame, isForward, RemoteError, toFrame, toRemoteError } from './frame';
import { transportKeys } from './keys';
import { DEFAULT_KEY_PREFIX, RedisTransportServerOptions } from './options';
import { decodeCancel, decodeRequest, encodeReply, encodeRequest, RequestMessage, splitReply } from './wire';

/** Seconds a BLMPOP blocks; bounds how long shutdown waits when CLIENT UNBLOCK is not possible. */
const POP_TIMEOUT_S = 2;
/** How long a cancel is remembered when it names no deadline. */
const CANCEL_MEMORY_MS = 10 * 60_000;

/** One request (or event) being handled. */
class Task {
  sub?: Subscription;
  /** Frames emitted since the last flush; sent together as one message. */
  pending?: Frame[];
  /** Already in the server's flush list. */
  queued = false;
  done = false;

  constructor(
    readonly message: RequestMessage,
    readonly ctx: RedisTransportContext,
    /** Where frames go; undefined when nobody waits for a reply (events, one-way messages). */
    readonly replyTo: string | undefined,
    public lastSent: number,
  ) {}
}

type Listener = [event: string, callback: (...args: unknown[]) => void];

/**
 * NestJS transport strategy over Redis lists (competing consumers) and pub/sub (replies,
 * cancellation, broadcast events). See the package README for the design.
 */
export class RedisTransportServer extends Server<Record<string, Listener[1]>> implements CustomTransportStrategy {
  private readonly prefix: string;
  private readonly queueKeys: string[];
  private readonly batchSize: number;
  private readonly concurrency: number;
  /** Popping resumes only when load is at or below this, so a saturated server still pops in batches. */
  private readonly lowWater: number;
  private readonly drainTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly cancelChannel: string;
  /** Lets shutdown find the blocking connection to unblock it (its id changes on reconnect). */
  private readonly popConnectionName: string;

  private cmd?: Redis;
  private pop?: Redis;
  private sub?: Redis;
  private readonly listeners: Listener[] = [];
  /** Event channel -> event pattern, for the patterns this process has @EventPattern handlers for. */
  private readonly eventChannels = new Map<string, string>();

  private running = false;
  private popLoopDone: Promise<void> = Promise.resolve();
  private active = 0;
  private readonly tasks = new Map<string, Task>();
  /** Ids cancelled by their caller -> until when to remember them (covers items still queued). */
  private readonly cancelled = new Map<string, number>();
  private flushList: Task[] = [];
  private flushScheduled = false;
  private slotFree?: () => void;
  private drained?: () => void;
  private maintenance?: NodeJS.Timeout;
  private closing?: Promise<void>;

  private readonly onCommandError = (err: unknown) => {
    this.logger.warn(`transport command failed: ${err instanceof Error ? err.message : String(err)}`);
  };
  private readonly flushAll = () => {
    this.flushScheduled = false;
    const list = this.flushList;
    this.flushList = [];
    for (const task of list) {
      task.queued = false;
      if (!task.done && task.pending !== undefined) this.sendReply(task);
    }
  };

  constructor(private readonly options: RedisTransportServerOptions) {
    super();
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.queueKeys = [...new Set(options.queues)].map((q) => transportKeys.queue(this.prefix, q));
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.concurrency = Math.max(1, options.concurrency ?? 1024);
    this.lowWater = this.concurrency - Math.max(1, Math.min(this.batchSize, Math.floor(this.concurrency / 4)));
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.cancelChannel = transportKeys.cancel(this.prefix);
    this.popConnectionName = `cpa-pop-${randomBytes(6).toString('hex')}`;
  }

  /** Called by NestJS once handlers are registered. */
  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  close(): Promise<void> {
    // NestJS closes a microservice's server twice (close() and dispose()).
    return (this.closing ??= this.shutdown());
  }

  on(event: string, callback: Listener[1]): void {
    this.listeners.push([event, callback]);
    for (const connection of [this.cmd, this.pop, this.sub]) connection?.on(event, callback);
  }

  unwrap<T>(): T {
    return { cmd: this.cmd, pop: this.pop, sub: this.sub } as T;
  }

  /** Requests currently being handled by this process. */
  get inFlight(): number {
    return this.active;
  }

  private async start(): Promise<void> {
    const url = this.options.redisUrl;
    // Never re-send a forward or reply that was in flight when the connection dropped (no duplicated work).
    this.cmd = new Redis(url, { lazyConnect: true, enableAutoPipelining: true, autoResendUnfulfilledCommands: false });
    // A blocked pop must survive reconnects rather than fail after N retries.
    this.pop = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: this.popConnectionName });
    this.sub = new Redis(url, { lazyConnect: true });
    for (const connection of [this.cmd, this.pop, this.sub]) {
      connection.on('error', (err: Error) => this.logger.warn(`redis connection error: ${err.message}`));
      for (const [event, callback] of this.listeners) connection.on(event, callback);
    }
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onBroadcast(channel, message));
    await Promise.all([this.cmd.connect(), this.pop.connect(), this.sub.connect()]);

    for (const [pattern, handler] of this.messageHandlers) {
      if (handler.isEventHandler) this.eventChannels.set(transportKeys.event(this.prefix, pattern), pattern);
    }
    await this.sub.subscribe(this.cancelChannel, ...this.eventChannels.keys());

    this.running = true;
    if (this.queueKeys.length > 0) this.popLoopDone = this.popLoop();
    this.maintenance = setInterval(() => this.maintain(), Math.min(1000, this.heartbeatMs > 0 ? this.heartbeatMs / 2 : 1000));
    this.maintenance.unref();
    this._status$.next('connected');
    this.logger.log(`consuming queues [${this.options.queues.join(', ')}], ${this.eventChannels.size} event pattern(s)`);
  }

  private async popLoop(): Promise<void> {
    const pop = this.pop!;
    let backoff = 0;
    let turn = 0;
    while (this.running) {
      if (this.active > this.lowWater) {
        await new Promise<void>((resolve) => (this.slotFree = resolve));
        continue;
      }
      const room = this.concurrency - this.active;
      // BLMPOP serves the first non-empty key; rotating the order keeps one busy queue from starving the rest.
      const keys = this.queueKeys.length === 1 ? this.queueKeys : rotate(this.queueKeys, turn++);
      let reply: unknown;
      try {
        reply = await pop.callBuffer('BLMPOP', POP_TIMEOUT_S, keys.length, ...keys, 'RIGHT', 'COUNT', Math.min(room, this.batchSize));
        backoff = 0;
      } catch (err) {
        if (!this.running) break;
        this.onCommandError(err);
        backoff = Math.min(1000, backoff === 0 ? 50 : backoff * 2);
        await sleep(backoff);
        continue;
      }
      if (reply === null) continue;
      for (const item of (reply as [Buffer, Buffer[]])[1]) this.accept(item);
    }
  }

  private accept(raw: Buffer): void {
    let message: RequestMessage;
    try {
      message = decodeRequest(raw);
    } catch (err) {
      this.logger.warn(`dropped a malformed queue item: ${(err as Error).message}`);
      return;
    }
    // The caller has already given up (or asked to stop): doing the work would be waste.
    if (message.deadline !== undefined && message.deadline <= Date.now()) return;
    if (this.cancelled.has(message.id)) return;
    const handler = this.findHandler(message.pattern);
    if (handler === undefined) {
      if (message.replyTo !== undefined) {
        const error: RemoteError = { message: `no handler for pattern ${message.pattern}`, status: 501 };
        this.cmd!.publish(message.replyTo, encodeReply({ id: message.id, error })).catch(this.onCommandError);
      } else {
        this.logger.warn(`no handler for one-way message ${message.pattern}`);
      }
      return;
    }
    this.run(message, handler, handler.isEventHandler ? undefined : message.replyTo);
  }

  private findHandler(pattern: string): MessageHandler | undefined {
    // A plain string pattern is its own route; getHandlerByPattern would JSON.parse (and throw) first.
    return this.messageHandlers.get(pattern) ?? this.getHandlerByPattern(pattern) ?? undefined;
  }

  private run(message: RequestMessage, handler: MessageHandler, replyTo: string | undefined): void {
    const ctx = new RedisTransportContext(message.id, message.pattern, message.deadline, message.body);
    const task = new Task(message, ctx, replyTo, Date.now());
    this.active++;
    this.tasks.set(message.id, task);
    let result: unknown;
    try {
      result = handler(message.data, ctx);
    } catch (err) {
      this.fail(task, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.settle(task, value),
        (err: unknown) => this.fail(task, err),
      );
    } else {
      this.settle(task, result);
    }
  }

  private settle(task: Task, value: unknown): void {
    if (task.done) return;
    if (isObservable(value)) {
      const sub = value.subscribe({
        next: (v) => this.emit(task, v),
        error: (err: unknown) => this.fail(task, err),
        complete: () => this.end(task),
      });
      // The observable may have finished (or been forwarded) synchronously inside subscribe().
      if (task.done) sub.unsubscribe();
      else task.sub = sub;
      return;
    }
    if (isForward(value)) return this.forward(task, value);
    if (task.replyTo !== undefined) {
      // The common non-streamed case: value and end in one message, no scheduling.
      (task.pending ??= []).push(toFrame(value));
      this.sendReply(task, true);
    }
    this.finish(task);
  }

  private emit(task: Task, value: unknown): void {
    if (task.done) return;
    if (isForward(value)) return this.forward(task, value);
    if (task.replyTo === undefined) return;
    (task.pending ??= []).push(toFrame(value));
    if (!task.queued) {
      task.queued = true;
      this.flushList.push(task);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the current I/O phase: chunks that arrived together leave together.
        setImmediate(this.flushAll);
      }
    }
  }

  private end(task: Task): void {
    if (task.done) return;
    if (task.replyTo !== undefined) this.sendReply(task, true);
    this.finish(task);
  }

  private fail(task: Task, err: unknown): void {
    if (task.done) return;
    if (task.replyTo !== undefined) this.sendReply(task, false, toRemoteError(err));
    else this.logger.warn(`handler of ${task.message.pattern} failed: ${toRemoteError(err).message}`);
    this.finish(task);
  }

  private forward(task: Task, to: Forward): void {
    // Frames already emitted leave first; the next holder's frames can only follow them.
    if (task.pending !== undefined && task.replyTo !== undefined) this.sendReply(task);
    const { message } = task;
    const body = to.body === undefined ? message.body : (to.body ?? undefined);
    const item = encodeRequest({ id: message.id, pattern: to.pattern, replyTo: message.replyTo, deadline: message.deadline, data: to.data, body });
    this.cmd!.lpush(transportKeys.queueOfPattern(this.prefix, to.pattern), item).catch(this.onCommandError);
    this.finish(task);
  }

  private sendReply(task: Task, end = false, error?: RemoteError): void {
    const frames = task.pending;
    task.pending = undefined;
    task.lastSent = Date.now();
    for (const reply of splitReply({ id: task.message.id, frames, end, error })) this.publish(task, encodeReply(reply));
  }

  /**
   * A reply that reached no subscriber has no caller any more (its pod died or gave up):
   * the work stops, and with it the upstream request.
   */
  private publish(task: Task, message: Buffer): void {
    this.cmd!.publish(task.replyTo!, message).then((receivers) => {
      if (receivers === 0 && !task.done) this.abort(task, new DOMException('the caller is gone', 'AbortError'));
    }, this.onCommandError);
  }

  private finish(task: Task): void {
    task.done = true;
    if (task.sub !== undefined) {
      task.sub.unsubscribe();
      task.sub = undefined;
    }
    if (this.tasks.get(task.message.id) === task) this.tasks.delete(task.message.id);
    this.active--;
    if (this.slotFree !== undefined && this.active <= this.lowWater) {
      const wake = this.slotFree;
      this.slotFree = undefined;
      wake();
    }
    if (this.active === 0) this.drained?.();
  }

  /** Stops a task: its handler sees the abort, and the caller gets `error` if one is given. */
  private abort(task: Task, reason: unknown, error?: RemoteError): void {
    if (task.done) return;
    task.ctx.abort(reason);
    if (error !== undefined && task.replyTo !== undefined) this.sendReply(task, false, error);
    this.finish(task);
  }

  private onBroadcast(channel: Buffer, message: Buffer): void {
    const name = channel.toString();
    try {
      if (name === this.cancelChannel) {
        const cancel = decodeCancel(message);
        this.cancelled.set(cancel.id, cancel.deadline ?? Date.now() + CANCEL_MEMORY_MS);
        const task = this.tasks.get(cancel.id);
        if (task !== undefined) this.abort(task, new DOMException('request cancelled by the caller', 'AbortError'));
        return;
      }
      const pattern = this.eventChannels.get(name);
      if (pattern === undefined) return;
      const event = decodeRequest(message);
      const handler = this.findHandler(pattern);
      if (handler !== undefined) this.run(event, handler, undefined);
    } catch (err) {
      this.logger.warn(`dropped a malformed broadcast: ${(err as Error).message}`);
    }
  }

  /** Forgets old cancels, stops work whose caller is gone, and tells callers of quiet replies we are alive. */
  private maintain(): void {
    const now = Date.now();
    for (const [id, until] of this.cancelled) if (until <= now) this.cancelled.delete(id);
    for (const task of this.tasks.values()) {
      if (task.message.deadline !== undefined && task.message.deadline <= now) {
        this.abort(task, new DOMException('request deadline passed', 'TimeoutError'));
      } else if (this.heartbeatMs > 0 && task.replyTo !== undefined && now - task.lastSent >= this.heartbeatMs) {
        task.lastSent = now;
        this.publish(task, encodeReply({ id: task.message.id, heartbeat: true }));
      }
    }
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    if (this.cmd === undefined) return;
    this.slotFree?.();
    this.slotFree = undefined;
    await this.unblockPop();
    await within(this.popLoopDone, (POP_TIMEOUT_S + 1) * 1000);
    if (this.active > 0) await within(new Promise<void>((resolve) => (this.drained = resolve)), this.drainTimeoutMs);
    // Whatever is still running will never finish here: its callers get an error now, not a hang.
    const error: RemoteError = { message: 'server shut down before the reply ended', status: 503 };
    for (const task of [...this.tasks.values()]) this.abort(task, new DOMException('server shutting down', 'AbortError'), error);
    this.flushAll();
    clearInterval(this.maintenance);

    await Promise.allSettled([this.cmd, this.sub, this.pop].map(closeConnection));
    this._status$.next('disconnected');
  }

  /** Wakes the blocked BLMPOP so shutdown does not wait for its timeout. */
  private async unblockPop(): Promise<void> {
    try {
      const list = String(await this.cmd!.call('CLIENT', 'LIST', 'TYPE', 'normal'));
      const line = list.split('\n').find((l) => l.includes(` name=${this.popConnectionName} `));
      const id = /(?:^|\s)id=(\d+)/.exec(line ?? '')?.[1];
      if (id !== undefined) await this.cmd!.client('UNBLOCK', id);
    } catch {
      // The pop times out on its own within POP_TIMEOUT_S.
    }
  }
}

function rotate<T>(items: readonly T[], turn: number): T[] {
  const start = turn % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
