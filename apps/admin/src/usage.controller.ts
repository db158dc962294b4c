import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  ManagementAuthGuard,
  parseUsageListQuery,
  parseUsageSummaryQuery,
  UsageReportService,
  UsageRequestsService,
} from '@cpa/management';

/** Per-request usage (the console's usage pages) and CLIProxyAPI's usage report, export and import. */
@Controller('usage')
@UseGuards(ManagementAuthGuard)
export class UsageController {
  constructor(
    private readonly requests: UsageRequestsService,
    private readonly report: UsageReportService,
  ) {}

  /** CLIProxyAPI's GET /usage. */
  @Get()
  usageReport(@Query() query: Record<string, string | undefined>) {
    return this.report.report(query);
  }

  /** JSON pages, or with `format=csv` every matching request as one CSV download. */
  @Get('requests')
  async list(@Query() query: Record<string, string | undefined>, @Res({ passthrough: true }) reply: FastifyReply) {
    const parsed = parseUsageListQuery(query);
    if (parsed.format === 'json') return this.requests.list(parsed);
    const lines = await this.requests.csv(parsed.filter);
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="usage-requests.csv"');
    return Readable.from(lines);
  }

  @Get('summary')
  summary(@Query() query: Record<string, string | undefined>) {
    return this.requests.summary(parseUsageSummaryQuery(query));
  }

  @Get('export')
  export() {
    return this.report.export();
  }

  @Post('import')
  @HttpCode(200)
  import(@Body() body: unknown) {
    return this.report.import(body);
  }
}
