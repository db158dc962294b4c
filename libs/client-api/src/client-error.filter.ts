import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientErrorBody } from '@cpa/contracts';
import { ClientKeyRejected } from './client-key.guard';
import { formatOfPath } from './request-fields';

/**
 * Errors raised before or outside a handler (body too large, unknown route, a bug) in the
 * error format of the API the client speaks, never Nest's own shape.
 */
@Catch()
export class ClientErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ClientErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (error instanceof ClientKeyRejected)
      return void reply.code(401).type('application/json').send(error.getResponse());
    const status = statusOf(error);
    if (status >= 500 && !(error instanceof HttpException))
      this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    const message = messageOf(error, status);
    if (reply.sent || reply.raw.headersSent) return void reply.raw.end();
    void reply
      .code(status)
      .type('application/json')
      .send(clientErrorBody(formatOfPath(request.url), status, message));
  }
}

function statusOf(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function messageOf(error: unknown, status: number): string {
  const code = (error as { code?: unknown })?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return 'Request body is too large';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'Unsupported content type';
  if (status === 404) return 'Not found';
  // Deliberate HTTP errors say why; anything else past 500 is a bug and says nothing inside.
  if (status >= 500) return error instanceof HttpException ? error.message : 'Internal error';
  return error instanceof Error ? error.message : 'Bad request';
}
