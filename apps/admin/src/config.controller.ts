import { Body, Controller, Delete, Get, Header, Param, Patch, Put, Query, UseGuards } from '@nestjs/common';
import {
  ConfigDocumentService,
  ConfigListsService,
  LIST_SECTIONS,
  ManagementAuthGuard,
  ScalarSettingsService,
  YAML_RESPONSE_TYPE,
} from '@cpa/management';

/**
 * CLIProxyAPI's configuration routes under /v0/management: the whole document (ConfigDocumentService),
 * its lists (ConfigListsService) and its scalar settings (ScalarSettingsService).
 */
@Controller()
@UseGuards(ManagementAuthGuard)
export class ConfigController {
  constructor(
    private readonly document: ConfigDocumentService,
    private readonly lists: ConfigListsService,
    private readonly scalars: ScalarSettingsService,
  ) {}

  @Get('config')
  config() {
    return this.document.getConfig();
  }

  @Get('config.yaml')
  @Header('content-type', YAML_RESPONSE_TYPE)
  configYaml() {
    return this.document.getConfigYaml();
  }

  /** The body arrives as text (YAML content types and text/plain; see configureAdminApp). */
  @Put('config.yaml')
  putConfigYaml(@Body() body: unknown) {
    return this.document.putConfigYaml(body);
  }

  @Get('routing/:name')
  routingScalar(@Param('name') name: string) {
    return this.scalars.get(`routing/${name}`);
  }

  @Put('routing/:name')
  putRoutingScalar(@Param('name') name: string, @Body() body: unknown) {
    return this.scalars.set(`routing/${name}`, body);
  }

  @Patch('routing/:name')
  patchRoutingScalar(@Param('name') name: string, @Body() body: unknown) {
    return this.scalars.set(`routing/${name}`, body);
  }

  /** A list (api-keys, claude-api-key, ...) or a scalar (request-retry, ...). */
  @Get(':name')
  get(@Param('name') name: string) {
    return LIST_SECTIONS.has(name) ? this.lists.get(name) : this.scalars.get(name);
  }

  @Put(':name')
  put(@Param('name') name: string, @Body() body: unknown) {
    return LIST_SECTIONS.has(name) ? this.lists.put(name, body) : this.scalars.set(name, body);
  }

  @Patch(':name')
  patch(@Param('name') name: string, @Body() body: unknown) {
    return LIST_SECTIONS.has(name) ? this.lists.patch(name, body) : this.scalars.set(name, body);
  }

  @Delete(':name')
  remove(@Param('name') name: string, @Query() query: Record<string, string | undefined>) {
    return LIST_SECTIONS.has(name) ? this.lists.remove(name, query) : this.scalars.reset(name);
  }
}
