import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import { ClientKeysService, ManagementAuthGuard } from '@cpa/management';

/** `/v0/management/client-keys`: client keys with limits and budgets (the logic is in ClientKeysService). */
@Controller('client-keys')
@UseGuards(ManagementAuthGuard)
export class ClientKeysController {
  constructor(private readonly clientKeys: ClientKeysService) {}

  @Get()
  list() {
    return this.clientKeys.list();
  }

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown) {
    return this.clientKeys.create(body);
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body() body: unknown) {
    return this.clientKeys.update(id, body);
  }

  @Delete(':id')
  remove(@Param('id') id: string) {
    return this.clientKeys.remove(id);
  }
}
