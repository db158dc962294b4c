import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  AuthFilesService,
  badRequest,
  CredentialQuotaService,
  ManagementAuthGuard,
  MULTIPART_CONTENT_TYPE,
  OAuthModelRulesService,
  readMultipartFiles,
  type StatusBody,
  type UploadedFile,
} from '@cpa/management';
import type { FastifyReply, FastifyRequest } from 'fastify';

type QueryMap = Record<string, string | string[] | undefined>;

/** Sends a batch answer with its status (200, 207 or 400). */
function answer(reply: FastifyReply, result: StatusBody): Record<string, unknown> {
  reply.status(result.status);
  return result.body;
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * CLIProxyAPI's auth-file routes (list, status, upload, download, delete, fields, models),
 * POST /reset-quota and the OAuth model rules, under /v0/management.
 */
@Controller()
@UseGuards(ManagementAuthGuard)
export class AuthFilesController {
  constructor(
    private readonly authFiles: AuthFilesService,
    private readonly quota: CredentialQuotaService,
    private readonly rules: OAuthModelRulesService,
  ) {}

  @Get('auth-files')
  list() {
    return this.authFiles.list();
  }

  @Patch('auth-files/status')
  setStatus(@Body() body: unknown) {
    return this.authFiles.setStatus(body);
  }

  /** multipart/form-data file parts, or one file as the raw body with `?name=x.json`. */
  @Post('auth-files')
  @HttpCode(200)
  async upload(
    @Req() request: FastifyRequest,
    @Query() query: QueryMap,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const contentType = request.headers['content-type'] ?? '';
    let files: UploadedFile[];
    if (contentType.toLowerCase().startsWith(MULTIPART_CONTENT_TYPE)) {
      files = await readMultipartFiles(body as Buffer, contentType);
      if (!files.length) throw badRequest('no files uploaded');
    } else {
      const name = single(query.name)?.trim() ?? '';
      if (body === undefined || body === null || body === '') throw badRequest('failed to read body');
      files = [{ name, content: body as UploadedFile['content'] }];
    }
    return answer(reply, await this.authFiles.upload(files));
  }

  @Delete('auth-files')
  async remove(@Query() query: QueryMap, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, await this.authFiles.remove(query, body));
  }

  /** The token file with its current tokens, as an attachment. */
  @Get('auth-files/download')
  async download(@Query() query: QueryMap, @Res({ passthrough: true }) reply: FastifyReply) {
    const file = await this.authFiles.download(single(query.name));
    reply.header('content-type', 'application/json');
    reply.header('content-disposition', `attachment; filename="${file.name.replace(/["\r\n]/g, '_')}"`);
    return file.json;
  }

  @Patch('auth-files/fields')
  patchFields(@Body() body: unknown) {
    return this.authFiles.patchFields(body);
  }

  @Get('auth-files/models')
  models(@Query() query: QueryMap) {
    return this.authFiles.models(single(query.name));
  }

  @Post('reset-quota')
  @HttpCode(200)
  resetQuota(@Body() body: unknown) {
    return this.quota.reset(body);
  }

  @Get('oauth-model-alias')
  aliases() {
    return this.rules.getAliases();
  }

  @Put('oauth-model-alias')
  putAliases(@Body() body: unknown) {
    return this.rules.putAliases(body);
  }

  @Patch('oauth-model-alias')
  patchAliases(@Body() body: unknown) {
    return this.rules.patchAliases(body);
  }

  @Delete('oauth-model-alias')
  deleteAliases(@Query() query: Record<string, string | undefined>) {
    return this.rules.deleteAliases(query);
  }

  @Get('oauth-excluded-models')
  excluded() {
    return this.rules.getExcluded();
  }

  @Put('oauth-excluded-models')
  putExcluded(@Body() body: unknown) {
    return this.rules.putExcluded(body);
  }

  @Patch('oauth-excluded-models')
  patchExcluded(@Body() body: unknown) {
    return this.rules.patchExcluded(body);
  }

  @Delete('oauth-excluded-models')
  deleteExcluded(@Query() query: Record<string, string | undefined>) {
    return this.rules.deleteExcluded(query);
  }
}
