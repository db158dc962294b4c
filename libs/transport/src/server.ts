import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { isObservable, Subscription } from 'rxjs';
import { isRedisClusterUrl, keyPrefixFor } from '@cpa/contracts';
import { RedisTransportContext } from './context';
import { BodyConnection } from './body-connection';
import { closeConnection, createRedis, onMessage, publish, RedisConnection, subscribe } from './connection';
import { Forward, Frame, isForward, RemoteError, toFrame, toRemoteError } from './frame';
import { CONSUMER_GROUP, transportKeys } from './keys';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_QUEUE_LIMIT, RedisTransportServerOptions } from './options';
import { ScriptedRedis, withScripts } from './scripts';
import { TransportError } from './transport-error';
import {
  decodeCancel,
  decodeFlow,
  decodeRequest,
  encodeReply,
  encodeRequest,
  RequestMessage,
  splitReply,
} from './wire';

/** Seconds a blocking read waits; bounds how long shutdown waits when CLIENT UNBLOCK is not possible. */
const POP_TIMEOUT_S = 2;
/** How long a cancel is remembered when it names no deadline. */
const CANCEL_MEMORY_MS = 10 * 60_000;
/** Most items claimed from one dead consumer, or promoted from one delayed set, per step. */
const RECLAIM_BATCH = 256;
/** Reply to a caller whose request could not be handed on. */
const HANDOFF_FAILED: RemoteError = {
  message: 'the request could not be handed on (message bus unavailable)',
  status: 503,
};
/** Reply to a caller whose body, stored by reference, could not be read. */
const BODY_UNREADABLE: RemoteError = {
  message: 'the request body could not be read (message bus unavailable)',
  status: 503,
};
/** Reply to a caller whose body, stored by reference, is gone (its deadline passed, or the caller settled it). */
const BODY_GONE: RemoteError = { message: 'the request body is no longer stored', status: 503 };

/** Where a queued item sits in Redis: its queue stream and entry id. */
interface QueueEntry {
  key: string;
  id: string;
}

/** One request (or event) being handled. */
class Task {
  sub?: Subscription;
  /** Frames emitted since the last flush; sent together as one message. */
  pending?: Frame[];
  /** Already in the server's flush list. */
  queued = false;
  done = false;
  /** The queue entry was acknowledged (started, or handed on): nothing is left to acknowledge. */
  acked = false;

  constructor(
    readonly message: RequestMessage,
    readonly ctx: RedisTransportContext,
    /** Where frames go; undefined when nobody waits for a reply (events, one-way messages). */
    readonly replyTo: string | undefined,
    public lastSent: number,
    /** Undefined for broadcast events. */
    readonly entry?: QueueEntry,
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
  private readonly flowChannel: string;
  /** Lets shutdown find the blocking connection to unblock it (its id changes on reconnect). */
  private readonly popConnectionName: string;
  /** This process's name in every queue's consumer group. */
  readonly consumerName: string;
  private readonly consumerKey: string;
  private readonly consumerTtlMs: number;
  private readonly queueLimit: number;
  private readonly readsBodies: boolean;
  /** Items taken whose bodies are being fetched: they hold a slot like running handlers. */
  private fetching = 0;
  /** Queue stream key -> its delayed set. */
  private readonly delayedKeys = new Map<string, string>();
  /** Entries to acknowledge, per queue stream, sent together once per tick. */
  private acks = new Map<string, string[]>();
  private acksScheduled = false;
  /** The pop connection reconnected: entries read on the lost connection may be ours without our knowing. */
  private recoverOwn = false;
  private maintaining = false;
  private readonly promoteTimers = new Set<NodeJS.Timeout>();

  private cmd?: ScriptedRedis;
  /** Reads stored bodies without ioredis's reply pool (body-connection.ts); undefined on a cluster or when bodies are not read. */
  private bodyConnection?: BodyConnection;
  private pop?: RedisConnection;
  private sub?: RedisConnection;
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
    this.prefix = keyPrefixFor(options.redisUrl, options.keyPrefix);
    this.queueKeys = [...new Set(options.queues)].map((q) => transportKeys.queue(this.prefix, q));
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.concurrency = Math.max(1, options.concurrency ?? 1024);
    this.lowWater = this.concurrency - Math.max(1, Math.min(this.batchSize, Math.floor(this.concurrency / 4)));
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.cancelChannel = transportKeys.cancel(this.prefix);
    this.flowChannel = transportKeys.flow(this.prefix);
    this.popConnectionName = `cpa-pop-${randomBytes(6).toString('hex')}`;
    // New per process start: a restarted process never inherits a dead one's items, they are reclaimed.
    this.consumerName = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.consumerKey = transportKeys.consumer(this.prefix, this.consumerName);
    this.consumerTtlMs = options.consumerTtlMs ?? 3_000;
    this.queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.readsBodies = options.readsBodies ?? true;
    for (const queue of new Set(options.queues))
      this.delayedKeys.set(transportKeys.queue(this.prefix, queue), transportKeys.delayed(this.prefix, queue));
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
    this.cmd = withScripts(
      createRedis(url, { lazyConnect: true, enableAutoPipelining: true, autoResendUnfulfilledCommands: false }),
    );
    // A blocked read must survive reconnects rather than fail after N retries.
    this.pop = createRedis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      connectionName: this.popConnectionName,
    });
    let popReady = 0;
    this.pop.on('ready', () => {
      if (popReady++ > 0) this.recoverOwn = true;
    });
    this.sub = createRedis(url, { lazyConnect: true });
    if (this.readsBodies && !isRedisClusterUrl(url)) this.bodyConnection = new BodyConnection(url);
    for (const connection of [this.cmd, this.pop, this.sub]) {
      connection.on('error', (err: Error) => this.logger.warn(`redis connection error: ${err.message}`));
      for (const [event, callback] of this.listeners) connection.on(event, callback);
    }
    onMessage(this.sub, (channel, message) => this.onBroadcast(channel, message));
    await Promise.all([this.cmd.connect(), this.pop.connect(), this.sub.connect()]);

    for (const [pattern, handler] of this.messageHandlers) {
      if (handler.isEventHandler) this.eventChannels.set(transportKeys.event(this.prefix, pattern), pattern);
    }
    await subscribe(this.sub, this.cancelChannel, this.flowChannel, ...this.eventChannels.keys());

    this.running = true;
    if (this.queueKeys.length > 0) {
      await this.cmd.set(this.consumerKey, '1', 'PX', this.consumerTtlMs);
      await this.ensureGroups();
      this.popLoopDone = this.popLoop();
    }
    this.maintenance = setInterval(
      () => this.maintain(),
      Math.min(1000, this.heartbeatMs > 0 ? this.heartbeatMs / 2 : 1000),
    );
    this.maintenance.unref();
    this._status$.next('connected');
    this.logger.log(
      `consuming queues [${this.options.queues.join(', ')}], ${this.eventChannels.size} event pattern(s)`,
    );
  }

  /** Creates each queue's consumer group (and stream) when missing: at start, and after Redis lost its data. */
  private async ensureGroups(): Promise<void> {
    for (const key of this.queueKeys) {
      try {
        await this.cmd!.xgroup('CREATE', key, CONSUMER_GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
  }

  /**
   * Reads batches through the consumer group: XREADGROUP moves what it returns into this
   * consumer's pending list in the same step, so an item is either still queued or known
   * to be ours, and one read serves every queue (none waits behind another's backlog).
   */
  private async popLoop(): Promise<void> {
    const pop = this.pop!;
    let backoff = 0;
    while (this.running) {
      if (this.active + this.fetching > this.lowWater) {
        await new Promise<void>((resolve) => (this.slotFree = resolve));
        continue;
      }
      const room = this.concurrency - this.active - this.fetching;
      const count = Math.max(1, Math.floor(Math.min(room, this.batchSize) / this.queueKeys.length));
      // After a reconnect, '0' re-reads entries already ours (delivered on the lost connection); '>' reads new ones.
      const recovering = this.recoverOwn;
      this.recoverOwn = false;
      let reply: unknown;
      try {
        reply = recovering
          ? await pop.callBuffer(
              'XREADGROUP',
              'GROUP',
              CONSUMER_GROUP,
              this.consumerName,
              'COUNT',
              RECLAIM_BATCH,
              'STREAMS',
              ...this.queueKeys,
              ...this.queueKeys.map(() => '0'),
            )
          : await pop.callBuffer(
              'XREADGROUP',
              'GROUP',
              CONSUMER_GROUP,
              this.consumerName,
              'COUNT',
              count,
              'BLOCK',
              POP_TIMEOUT_S * 1000,
              'STREAMS',
              ...this.queueKeys,
              ...this.queueKeys.map(() => '>'),
            );
        backoff = 0;
      } catch (err) {
        if (!this.running) break;
        if (String((err as Error).message).includes('NOGROUP')) {
          // Redis lost the streams (a restart without persistence): start over with empty queues.
          await this.ensureGroups().catch(this.onCommandError);
          continue;
        }
        if (recovering) this.recoverOwn = true;
        this.onCommandError(err);
        backoff = Math.min(1000, backoff === 0 ? 50 : backoff * 2);
        await sleep(backoff);
        continue;
      }
      if (reply === null) continue;
      for (const [key, entries] of reply as Array<[Buffer, StreamEntry[]]>)
        this.acceptEntries(key.toString(), entries, recovering);
    }
  }

  /** Starts the handlers of entries read or claimed from `key` (skipping ones already running here when `known` may repeat them). */
  private acceptEntries(
    key: string,
    entries: ReadonlyArray<StreamEntry | null>,
    mayRepeat: boolean,
    reclaimed = false,
  ): void {
    let byReference: { message: RequestMessage; entry: QueueEntry }[] | undefined;
    for (const entry of entries) {
      if (entry === null) continue;
      const [id, fields] = entry;
      const raw = fields[1];
      const at: QueueEntry = { key, id: id.toString() };
      if (raw === undefined) {
        this.ack(at);
        continue;
      }
      let message: RequestMessage;
      try {
        message = decodeRequest(raw);
      } catch (err) {
        this.logger.warn(`dropped a malformed queue item: ${(err as Error).message}`);
        this.ack(at);
        continue;
      }
      if (message.bodyRef && this.readsBodies && !this.unwanted(message))
        (byReference ??= []).push({ message, entry: at });
      else this.accept(message, at, mayRepeat, reclaimed);
    }
    if (byReference !== undefined) this.fetchBodies(byReference, mayRepeat, reclaimed);
  }

  /** The caller has already given up (or asked to stop): doing the work would be waste. */
  private unwanted(message: RequestMessage): boolean {
    return (message.deadline !== undefined && message.deadline <= Date.now()) || this.cancelled.has(message.id);
  }

  /**
   * Reads the bodies of items that carry a reference (one MGET for the batch), then starts
   * them. Until then they are taken but not running: a crash hands them to a live consumer.
   */
  private fetchBodies(
    items: { message: RequestMessage; entry: QueueEntry }[],
    mayRepeat: boolean,
    reclaimed: boolean,
  ): void {
    this.fetching += items.length;
    const settled = () => {
      this.fetching -= items.length;
      this.wakePopIfRoom();
    };
    const keys = items.map(({ message }) => transportKeys.body(this.prefix, message.id));
    (this.bodyConnection ? this.bodyConnection.read(keys) : this.cmd!.mgetBuffer(...keys)).then(
      (bodies) => {
        settled();
        // Shutting down: leave them pending; a live consumer reclaims them.
        if (!this.running) return;
        items.forEach(({ message, entry }, i) => {
          const body = bodies[i];
          if (body === null || body === undefined) return this.refuse(message, entry, BODY_GONE);
          message.body = body;
          this.accept(message, entry, mayRepeat, reclaimed);
        });
      },
      (err: unknown) => {
        settled();
        this.onCommandError(err);
        for (const { message, entry } of items) this.refuse(message, entry, BODY_UNREADABLE);
      },
    );
  }

  /** Answers an item's caller with an error without running it, and acknowledges it. */
  private refuse(message: RequestMessage, entry: QueueEntry, error: RemoteError): void {
    if (message.replyTo !== undefined) this.publishError(message.replyTo, message.id, error);
    this.ack(entry);
  }

  private accept(message: RequestMessage, entry: QueueEntry, mayRepeat = false, reclaimed = false): void {
    if (mayRepeat && this.tasks.has(message.id)) return;
    if (this.unwanted(message)) return this.ack(entry);
    const handler = this.findHandler(message.pattern);
    if (handler === undefined) {
      if (message.replyTo !== undefined) {
        const error: RemoteError = { message: `no handler for pattern ${message.pattern}`, status: 501 };
        publish(this.cmd!, message.replyTo, encodeReply({ id: message.id, error })).catch(this.onCommandError);
      } else {
        this.logger.warn(`no handler for one-way message ${message.pattern}`);
      }
      return this.ack(entry);
    }
    // A stream entry id starts with the Redis time (ms) it was added (or promoted from the delayed set).
    this.options.onDequeue?.(message.pattern, Date.now() - Number.parseInt(entry.id, 10));
    const task = this.run(message, handler, handler.isEventHandler ? undefined : message.replyTo, entry);
    // The caller has heard nothing since its request was taken by a process that died: it is in good hands again.
    if (reclaimed && !task.done && task.replyTo !== undefined) {
      task.lastSent = Date.now();
      this.publish(task, encodeReply({ id: message.id, heartbeat: true }));
    }
  }

  private findHandler(pattern: string): MessageHandler | undefined {
    // A plain string pattern is its own route; getHandlerByPattern would JSON.parse (and throw) first.
    return this.messageHandlers.get(pattern) ?? this.getHandlerByPattern(pattern) ?? undefined;
  }

  private run(message: RequestMessage, handler: MessageHandler, replyTo: string | undefined, entry?: QueueEntry): Task {
    const ctx = new RedisTransportContext(message.id, message.pattern, message.deadline, message.body);
    const task = new Task(message, ctx, replyTo, Date.now(), entry);
    if (entry !== undefined) ctx.starter = () => this.markStarted(task);
    this.active++;
    this.tasks.set(message.id, task);
    let result: unknown;
    try {
      result = handler(message.data, ctx);
    } catch (err) {
      this.fail(task, err);
      return task;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.settle(task, value),
        (err: unknown) => this.fail(task, err),
      );
    } else {
      this.settle(task, result);
    }
    return task;
  }

  /** ctx.start(): acknowledge the entry now, if it is still ours; otherwise drop the task without a word. */
  private async markStarted(task: Task): Promise<void> {
    if (task.acked || task.entry === undefined) return;
    task.acked = true;
    let owned: number;
    try {
      owned = await this.cmd!.transportStart(task.entry.key, CONSUMER_GROUP, task.entry.id, this.consumerName);
    } catch (err) {
      task.acked = false;
      throw new TransportError(
        'closed',
        `could not mark ${task.message.pattern} started: ${(err as Error).message}`,
        503,
      );
    }
    if (owned !== 1) {
      // A live replica reclaimed the item while this process looked dead: it answers, not us.
      this.disown(task);
      throw new TransportError('closed', 'the request was reclaimed by another replica');
    }
  }

  /** The item belongs to another consumer now: stop without replying or acknowledging. */
  private disown(task: Task): void {
    task.acked = true;
    this.abort(task, new DOMException('the request was reclaimed by another replica', 'AbortError'));
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

  /**
   * Hands the request on. The push and the acknowledgement of the item it came from are one
   * script: a crash leaves it either here (delivered again) or there, never both.
   */
  private forward(task: Task, to: Forward): void {
    // Frames already emitted leave first; the next holder's frames can only follow them.
    if (task.pending !== undefined && task.replyTo !== undefined) this.sendReply(task);
    const { message } = task;
    // A body stored by reference stays where it is: the next holder gets the reference, not the bytes.
    const carried =
      to.body === undefined
        ? message.bodyRef
          ? { bodyRef: true }
          : { body: message.body }
        : { body: to.body ?? undefined };
    const item = encodeRequest({
      id: message.id,
      pattern: to.pattern,
      replyTo: message.replyTo,
      deadline: message.deadline,
      data: to.data,
      ...carried,
    });
    const target = transportKeys.queueOfPattern(this.prefix, to.pattern);
    const source = task.acked ? undefined : task.entry;
    task.acked = true;
    let sent: Promise<number>;
    if (to.delayMs !== undefined) {
      const delayed = transportKeys.delayed(this.prefix, queueOfKey(this.prefix, target));
      // The caller hears nothing while the request is parked: tell it how long to expect silence.
      if (message.replyTo !== undefined)
        publish(
          this.cmd!,
          message.replyTo,
          encodeReply({ id: message.id, heartbeat: true, quietMs: to.delayMs }),
        ).catch(this.onCommandError);
      sent = this.cmd!.transportDelay(
        delayed,
        source?.key ?? target,
        to.delayMs,
        item,
        source?.id ?? '',
        CONSUMER_GROUP,
        this.consumerName,
      );
      if (this.delayedKeys.has(target)) this.promoteAfter(target, to.delayMs);
    } else if (source !== undefined) {
      sent = this.cmd!.transportForward(
        target,
        transportKeys.refused(this.prefix, queueOfKey(this.prefix, target)),
        source.key,
        this.queueLimit,
        item,
        CONSUMER_GROUP,
        source.id,
        this.consumerName,
      );
    } else {
      sent = this.cmd!.transportPush(
        target,
        transportKeys.refused(this.prefix, queueOfKey(this.prefix, target)),
        this.queueLimit,
        item,
      );
    }
    const replyTo = message.replyTo;
    sent.then(
      (result) => {
        if (result === 0 && replyTo !== undefined) {
          this.publishError(replyTo, message.id, {
            message: `the ${queueOfKey(this.prefix, target)} queue is full; retry shortly`,
            status: 503,
          });
        }
        // -1: a live replica reclaimed the item; it hands it on instead.
      },
      (err: unknown) => {
        this.onCommandError(err);
        if (replyTo !== undefined) this.publishError(replyTo, message.id, HANDOFF_FAILED);
      },
    );
    this.finish(task);
  }

  private publishError(replyTo: string, id: string, error: RemoteError): void {
    publish(this.cmd!, replyTo, encodeReply({ id, error })).catch(this.onCommandError);
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
    publish(this.cmd!, task.replyTo!, message).then((receivers) => {
      if (receivers !== 0) return;
      // Nobody will settle this call, and with it delete its stored body: it goes now rather than at its TTL.
      if (task.message.bodyRef)
        this.cmd!.del(transportKeys.body(this.prefix, task.message.id)).catch(this.onCommandError);
      if (!task.done) this.abort(task, new DOMException('the caller is gone', 'AbortError'));
    }, this.onCommandError);
  }

  private finish(task: Task): void {
    task.done = true;
    if (!task.acked && task.entry !== undefined) {
      task.acked = true;
      this.ack(task.entry);
    }
    if (task.sub !== undefined) {
      task.sub.unsubscribe();
      task.sub = undefined;
    }
    if (this.tasks.get(task.message.id) === task) this.tasks.delete(task.message.id);
    this.active--;
    this.wakePopIfRoom();
    if (this.active === 0) this.drained?.();
  }

  /** The pop loop waits while the server is saturated; it reads again once a batch worth of slots is free. */
  private wakePopIfRoom(): void {
    if (this.slotFree !== undefined && this.active + this.fetching <= this.lowWater) {
      const wake = this.slotFree;
      this.slotFree = undefined;
      wake();
    }
  }

  /** Acknowledges a finished entry; entries of one tick leave as one script call per queue. */
  private ack(entry: QueueEntry): void {
    const list = this.acks.get(entry.key);
    if (list === undefined) this.acks.set(entry.key, [entry.id]);
    else list.push(entry.id);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(this.flushAcks);
    }
  }

  private readonly flushAcks = () => {
    this.acksScheduled = false;
    const acks = this.acks;
    this.acks = new Map();
    for (const [key, ids] of acks) this.cmd?.transportAck(key, CONSUMER_GROUP, ...ids).catch(this.onCommandError);
  };

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
      if (name === this.flowChannel) {
        const flow = decodeFlow(message);
        this.tasks.get(flow.id)?.ctx.setPaused(flow.paused);
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

  /**
   * Forgets old cancels, stops work whose caller is gone, tells callers of quiet replies we
   * are alive; keeps this consumer's liveness key fresh, takes over the items of consumers
   * whose key lapsed, and moves due delayed items onto their queues.
   */
  private maintain(): void {
    const now = Date.now();
    if (this.running && this.queueKeys.length > 0) {
      this.cmd!.set(this.consumerKey, '1', 'PX', this.consumerTtlMs).catch(this.onCommandError);
      if (!this.maintaining) {
        this.maintaining = true;
        void this.reclaimAndPromote().finally(() => (this.maintaining = false));
      }
    }
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

  private async reclaimAndPromote(): Promise<void> {
    for (const key of this.queueKeys) {
      try {
        await this.promote(key);
        await this.reclaim(key);
      } catch (err) {
        if (this.running) this.onCommandError(err);
      }
    }
  }

  /** Claims the pending items of every consumer of `key` whose liveness key has lapsed. */
  private async reclaim(key: string): Promise<void> {
    let consumers: unknown[][];
    try {
      consumers = (await this.cmd!.xinfo('CONSUMERS', key, CONSUMER_GROUP)) as unknown[][];
    } catch (err) {
      // Redis lost the queue (restarted empty): nobody's items to take over; the next read makes it again.
      if (/no such key|NOGROUP/.test((err as Error).message)) return;
      throw err;
    }
    for (const fields of consumers) {
      const name = String(fields[fields.indexOf('name') + 1]);
      if (name === this.consumerName) continue;
      if ((await this.cmd!.exists(transportKeys.consumer(this.prefix, name))) === 1) continue;
      for (;;) {
        const claimed = await this.cmd!.transportClaimBuffer(
          key,
          transportKeys.consumer(this.prefix, name),
          CONSUMER_GROUP,
          name,
          this.consumerName,
          RECLAIM_BATCH,
        );
        if (claimed.length === 0 || !this.running) break;
        this.logger.warn(
          `took over ${claimed.length} unstarted item(s) of ${key} from consumer ${name}, whose process stopped`,
        );
        this.acceptEntries(key, claimed, false, true);
        if (claimed.length < RECLAIM_BATCH) break;
      }
    }
  }

  /** Moves due delayed items of `key`'s queue onto it; schedules the next move when one is due soon. */
  private async promote(key: string): Promise<void> {
    const delayed = this.delayedKeys.get(key)!;
    for (;;) {
      const [moved, waitMs] = await this.cmd!.transportPromote(delayed, key, RECLAIM_BATCH);
      if (moved < RECLAIM_BATCH) {
        if (waitMs >= 0 && waitMs < 1000) this.promoteAfter(key, waitMs);
        return;
      }
    }
  }

  /** A delayed item of a queue this server consumes is due in `ms`: move it then rather than at the next tick. */
  private promoteAfter(key: string, ms: number): void {
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.promoteTimers.delete(timer);
      this.promote(key).catch((err: unknown) => this.running && this.onCommandError(err));
    }, ms + 1);
    timer.unref();
    this.promoteTimers.add(timer);
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    if (this.cmd === undefined) return;
    for (const timer of this.promoteTimers) clearTimeout(timer);
    this.promoteTimers.clear();
    this.slotFree?.();
    this.slotFree = undefined;
    await this.unblockPop();
    await within(this.popLoopDone, (POP_TIMEOUT_S + 1) * 1000);
    if (this.active > 0) await within(new Promise<void>((resolve) => (this.drained = resolve)), this.drainTimeoutMs);
    // Whatever is still running will never finish here: its callers get an error now, not a hang.
    const error: RemoteError = { message: 'server shut down before the reply ended', status: 503 };
    for (const task of [...this.tasks.values()])
      this.abort(task, new DOMException('server shutting down', 'AbortError'), error);
    this.flushAll();
    this.flushAcks();
    clearInterval(this.maintenance);
    // Nothing of ours is pending any more: no need to wait for the key to lapse.
    if (this.queueKeys.length > 0) await this.cmd.del(this.consumerKey).catch(() => undefined);

    this.bodyConnection?.close();
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

/** An entry as XREADGROUP and XCLAIM return it: id, then its fields as name/value pairs. */
type StreamEntry = [id: Buffer, fields: Buffer[]];

/** The queue name of a queue stream key. */
function queueOfKey(prefix: string, key: string): string {
  return key.slice(transportKeys.queue(prefix, '').length);
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
