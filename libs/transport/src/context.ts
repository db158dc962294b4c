import { BaseRpcContext } from '@nestjs/microservices';

/**
 * What `@Ctx()` yields in a handler. The AbortSignal is created only when a handler asks
 * for it: most requests finish without anyone looking at it, and it is not free.
 */
export class RedisTransportContext extends BaseRpcContext<[string]> {
  private controller?: AbortController;
  private abortReason?: unknown;
  /** Set while the caller asked to pause the reply; resolves when it resumes (or the work stops). */
  private pausedUntil?: { promise: Promise<void>; resume: () => void };
  /** @internal set by the server for items taken from a queue. */
  starter?: () => Promise<void>;
  private started?: Promise<void>;

  constructor(
    /** Request id; stays the same when the request is forwarded. */
    readonly id: string,
    readonly pattern: string,
    /** Epoch ms after which the caller no longer waits. */
    readonly deadline: number | undefined,
    private readonly body: Buffer | undefined,
  ) {
    super([pattern]);
  }

  /** The raw request body, exactly the bytes the caller sent. */
  getBody(): Buffer | undefined {
    return this.body;
  }

  getPattern(): string {
    return this.pattern;
  }

  /** Aborted when the caller cancels, the deadline passes, or the server shuts down. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /**
   * Marks the request started: from now on the transport never delivers it again, even
   * if this process dies (its caller then learns it from the idle timeout). Call it right
   * before an action that must not run twice (an executor: before the upstream call).
   * Rejects, and aborts the signal, when the item is no longer this process's: a live
   * replica reclaimed it after this one looked dead, and will handle it instead.
   * Without it, an item is acknowledged when its handler is done (or forwards it), and
   * is delivered again if this process dies before that.
   */
  start(): Promise<void> {
    return (this.started ??= this.starter?.() ?? Promise.resolve());
  }

  /**
   * Backpressure for streamed replies: undefined while the caller keeps up; a promise that
   * resolves when it has caught up again (or the work was stopped) while it asked to pause.
   * A producer awaits it before reading more from its own source.
   */
  whenWritable(): Promise<void> | undefined {
    return this.pausedUntil?.promise;
  }

  /** @internal called by the server. */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.setPaused(false);
  }

  /** @internal called by the server when the caller pauses or resumes the reply. */
  setPaused(paused: boolean): void {
    if (paused && this.pausedUntil === undefined && this.abortReason === undefined) {
      let resume!: () => void;
      const promise = new Promise<void>((resolve) => (resume = resolve));
      this.pausedUntil = { promise, resume };
    } else if (!paused && this.pausedUntil !== undefined) {
      const { resume } = this.pausedUntil;
      this.pausedUntil = undefined;
      resume();
    }
  }

  get paused(): boolean {
    return this.pausedUntil !== undefined;
  }
}
