import { clientErrorBody, type ClientFormat } from '@cpa/contracts';

/**
 * The event that ends a stream which broke after its first byte, in the client's own
 * streaming format (the HTTP status is already sent by then).
 */
export function streamErrorEvent(format: ClientFormat, status: number, message: string): Buffer {
  const body = JSON.stringify(clientErrorBody(format, status, message));
  switch (format) {
    case 'claude':
      return Buffer.from(`event: error\ndata: ${body}\n\n`);
    case 'openai-responses':
      return Buffer.from(
        `event: error\ndata: ${JSON.stringify({ type: 'error', code: String(status), message, param: null })}\n\n`,
      );
    default:
      return Buffer.from(`data: ${body}\n\n`);
  }
}

/**
 * The HTTP status an error reported inside an upstream stream stands for (the stream
 * itself said 200): the error's own status when it has one (Google's `code`), else by its
 * type or message — Anthropic's `overloaded_error` is 529 as on its HTTP answers, other
 * overload or unavailability 503, rate limits and exhausted quotas 429, anything else 502.
 */
export function streamErrorStatus(error: { status?: number; type?: string; message?: string }): number {
  if (error.status !== undefined && Number.isInteger(error.status) && error.status >= 400 && error.status <= 599)
    return error.status;
  const type = (error.type ?? '').toLowerCase();
  const text = `${type} ${error.message ?? ''}`.toLowerCase();
  if (type === 'overloaded_error') return 529;
  if (/overloaded|unavailable/.test(text)) return 503;
  if (/rate.?limit|resource_exhausted|quota|too many requests/.test(text)) return 429;
  return 502;
}
