/** A write lost an optimistic-lock race: someone else changed the row since it was read. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';

  constructor(
    readonly entity: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      `${entity} ${id} was modified concurrently (expected version ${expectedVersion}, found ${actualVersion}); reload and retry`,
    );
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';

  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} does not exist`);
  }
}

/** Prisma's codes for a database it cannot reach or lost (P1001 unreachable, P1002/P1008 timeouts, P1017 closed, P2024 pool timeout). */
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

/**
 * True when an error says Postgres is down or unreachable (as opposed to a bad query or a
 * constraint): callers answer 503 and keep serving, instead of 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let e = error as Record<string, unknown> | undefined, depth = 0;
    e && typeof e === 'object' && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || UNAVAILABLE_SOCKET_CODES.has(e.code)))
      return true;
    const adapter = (e.meta as { driverAdapterError?: { cause?: { kind?: unknown } } } | undefined)?.driverAdapterError;
    if (typeof adapter?.cause?.kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(adapter.cause.kind)) return true;
    if (e.name === 'PrismaClientInitializationError') return true;
    e = e.cause as Record<string, unknown> | undefined;
  }
  return false;
}
