import { Controller, Get, Param, Query, Res, UseGuards } from '@nestjs/common';
import type { RequestErrorLogFile } from '@cpa/contracts/management-views';
import { ManagementAuthGuard, renderErrorLog, RequestErrorLogsService } from '@cpa/management';
import type { FastifyReply } from 'fastify';

/**
 * CLIProxyAPI's request error logs (`/v0/management/request-error-logs`, `/request-log-by-id`):
 * the listing, and each request's log as a text file, or as JSON with `?format=json`.
 */
@Controller()
@UseGuards(ManagementAuthGuard)
export class RequestErrorLogsController {
  constructor(private readonly logs: RequestErrorLogsService) {}

  @Get('request-error-logs')
  list() {
    return this.logs.list();
  }

  @Get('request-error-logs/:name')
  async byName(
    @Param('name') name: string,
    @Query('format') format: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(await this.logs.byName(name), format, reply);
  }

  @Get('request-log-by-id/:id')
  async byRequestId(
    @Param('id') id: string,
    @Query('format') format: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(await this.logs.byRequestId(id), format, reply);
  }
}

function answer(file: RequestErrorLogFile, format: string | undefined, reply: FastifyReply) {
  if (format === 'json') return file;
  void reply
    .header('content-type', 'text/plain; charset=utf-8')
    .header('content-disposition', `attachment; filename="${file.name}"`);
  return renderErrorLog(file);
}
