import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ConfigError, DuplicateEntryError } from '@cpa/config';
import { isDatabaseUnavailable } from '@cpa/db';
import type { FastifyReply } from 'fastify';
import { ManagementError } from './management-error';

/** Every management error leaves as CLIProxyAPI's `{"error": "<message>"}`. */
@Catch()
export class ManagementErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ManagementApi');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const [status, message] = this.describe(exception);
    void reply.status(status).send({ error: message });
  }

  private describe(exception: unknown): [number, string] {
    if (exception instanceof ManagementError) return [exception.status, exception.message];
    if (exception instanceof DuplicateEntryError || exception instanceof ConfigError) return [400, exception.message];
    // Postgres down: the hot path keeps serving from the Redis snapshot; management says so at once.
    if (isDatabaseUnavailable(exception)) return [503, 'database unavailable'];
    // Our code throws ManagementError; HttpExceptions and errors with a statusCode come from
    // the framework: unknown routes, malformed JSON, wrong content type, body too large.
    const status =
      exception instanceof HttpException ? exception.getStatus() : (exception as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return [status, status === 404 ? 'not found' : status === 413 ? 'request body too large' : 'invalid body'];
    }
    // Messages of unexpected errors may quote data; log only the kind, never the text to the caller.
    this.logger.error(
      `unhandled ${(exception as Error)?.name ?? 'error'}: ${(exception as Error)?.message ?? String(exception)}`,
    );
    return [500, 'internal error'];
  }
}
