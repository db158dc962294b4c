import { RpcException } from '@nestjs/microservices';

/**
 * - `deadline`: the request's deadline passed before the reply ended;
 * - `lost`: no frame or heartbeat for the idle timeout: the process holding the request died;
 * - `remote`: the handler failed (message and status come from the handler's error);
 * - `closed`: the client closed or lost its reply channel while waiting;
 * - `overloaded`: the request's queue was full; nothing was queued (status 503: retry later).
 */
export type TransportErrorCode = 'deadline' | 'lost' | 'remote' | 'closed' | 'overloaded';

/**
 * A failed request as the caller sees it. It is an RpcException, so a handler that
 * rethrows one (e.g. the scheduler relaying an executor's failure) passes message and
 * status on to its own caller through NestJS's exception filter unchanged.
 */
export class TransportError extends RpcException {
  override readonly name = 'TransportError';

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(status === undefined ? { message } : { message, status });
  }
}
