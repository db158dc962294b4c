import { randomUUID } from 'node:crypto';

/** The header a request id arrives in and is answered with (gateway and admin). */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What a caller's id may look like to be kept: short, printable, no spaces or quotes, so
 * it can go into log lines, file names and headers unescaped. Anything else is replaced.
 */
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The caller's `x-request-id` when it is acceptable, else undefined. */
export function acceptRequestId(value: unknown): string | undefined {
  const candidate = Array.isArray(value) ? value[0] : value;
  return typeof candidate === 'string' && ACCEPTABLE_REQUEST_ID.test(candidate) ? candidate : undefined;
}

/** The caller's id when acceptable, else a new one. */
export function requestIdFor(incoming: unknown): string {
  return acceptRequestId(incoming) ?? randomUUID();
}
