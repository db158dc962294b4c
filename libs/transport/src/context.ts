import { BaseRpcContext } from '@nestjs/microservices';

/**
 * What `@Ctx()` yields in a handler. The AbortSignal is created only when a handler asks
 * for it: most requests finish without anyone looking at it, and it is not free.
 */
export class RedisTransportContext extends BaseRpcContext<[string]> {
  private controller?: AbortController;
  private abortReason?: unknown;

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

  /** @internal called by the server. */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
