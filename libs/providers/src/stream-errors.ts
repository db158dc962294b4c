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
      return Buffer.from(`event: error\ndata: ${JSON.stringify({ type: 'error', code: String(status), message, param: null })}\n\n`);
    default:
      return Buffer.from(`data: ${body}\n\n`);
  }
}
