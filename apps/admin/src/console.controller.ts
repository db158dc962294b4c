import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ConsoleViewsService, ManagementAuthGuard } from '@cpa/management';

/** The console's own read endpoints under /v0/management (the logic is in ConsoleViewsService). */
@Controller()
@UseGuards(ManagementAuthGuard)
export class ConsoleController {
  constructor(private readonly views: ConsoleViewsService) {}

  @Get('credentials')
  credentials() {
    return this.views.listCredentials();
  }

  @Get('audit-log')
  auditLog(@Query() query: Record<string, string | undefined>) {
    return this.views.listAuditLog(query);
  }
}
