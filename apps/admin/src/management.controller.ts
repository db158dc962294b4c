import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Put, Query, UseGuards } from '@nestjs/common';
import { LIST_SECTIONS, ManagementAuthGuard, ManagementService, UsageReportService, YAML_RESPONSE_TYPE } from '@cpa/management';

/** CLIProxyAPI's management routes under /v0/management; the logic is in ManagementService. */
@Controller()
@UseGuards(ManagementAuthGuard)
export class ManagementController {
  constructor(
    private readonly management: ManagementService,
    private readonly usage: UsageReportService,
  ) {}

  @Get('usage')
  usageReport(@Query() query: Record<string, string | undefined>) {
    return this.usage.report(query);
  }

  @Get('config')
  config() {
    return this.management.getConfig();
  }

  @Get('config.yaml')
  @Header('content-type', YAML_RESPONSE_TYPE)
  configYaml() {
    return this.management.getConfigYaml();
  }

  /** The body arrives as text (YAML content types and text/plain; see configureAdminApp). */
  @Put('config.yaml')
  putConfigYaml(@Body() body: unknown) {
    return this.management.putConfigYaml(body);
  }

  @Get('auth-files')
  authFiles() {
    return this.management.listAuthFiles();
  }

  @Patch('auth-files/status')
  authFileStatus(@Body() body: unknown) {
    return this.management.setAuthFileStatus(body);
  }

  @Post('reset-quota')
  @HttpCode(200)
  resetQuota(@Body() body: unknown) {
    return this.management.resetQuota(body);
  }

  @Get('routing/:name')
  routingScalar(@Param('name') name: string) {
    return this.management.getScalar(`routing/${name}`);
  }

  @Put('routing/:name')
  putRoutingScalar(@Param('name') name: string, @Body() body: unknown) {
    return this.management.setScalar(`routing/${name}`, body);
  }

  @Patch('routing/:name')
  patchRoutingScalar(@Param('name') name: string, @Body() body: unknown) {
    return this.management.setScalar(`routing/${name}`, body);
  }

  /** A list (api-keys, claude-api-key, ...) or a scalar (request-retry, ...). */
  @Get(':name')
  get(@Param('name') name: string) {
    return LIST_SECTIONS.has(name) ? this.management.getList(name) : this.management.getScalar(name);
  }

  @Put(':name')
  put(@Param('name') name: string, @Body() body: unknown) {
    return LIST_SECTIONS.has(name) ? this.management.putList(name, body) : this.management.setScalar(name, body);
  }

  @Patch(':name')
  patch(@Param('name') name: string, @Body() body: unknown) {
    return LIST_SECTIONS.has(name) ? this.management.patchList(name, body) : this.management.setScalar(name, body);
  }

  @Delete(':name')
  remove(@Param('name') name: string, @Query() query: Record<string, string | undefined>) {
    return LIST_SECTIONS.has(name) ? this.management.deleteList(name, query) : this.management.deleteScalar(name);
  }
}
