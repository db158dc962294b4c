import { Controller, Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Catalog } from '@cpa/catalog';
import {
  admittedClient,
  ClientKeyGuard,
  claudeModelList,
  geminiModelInfo,
  geminiModelList,
  openAIModelList,
  wantsClaudeModelList,
  writeJson,
} from '@cpa/client-api';
import { clientErrorBody } from '@cpa/contracts';

/** The model listings of the client API; its POST routes are in proxy.routes.ts. */
@Controller()
@UseGuards(ClientKeyGuard)
export class ModelsController {
  constructor(private readonly catalog: Catalog) {}

  // Each listing shows only the models the client key may use.
  @Get('v1/models')
  models(@Req() req: FastifyRequest) {
    const allowed = admittedClient(req).policy.models;
    return wantsClaudeModelList(req.headers)
      ? claudeModelList(this.catalog.snapshot, allowed)
      : openAIModelList(this.catalog.snapshot, allowed);
  }

  @Get('v1beta/models')
  geminiModels(@Req() req: FastifyRequest) {
    return geminiModelList(this.catalog.snapshot, admittedClient(req).policy.models);
  }

  // Fastify has already percent-decoded `model`.
  @Get('v1beta/models/:model')
  geminiModel(@Req() req: FastifyRequest, @Param('model') model: string, @Res() reply: FastifyReply) {
    const info = geminiModelInfo(this.catalog.snapshot, model, admittedClient(req).policy.models);
    reply.hijack();
    if (!info) return writeJson(reply.raw, 404, clientErrorBody('gemini', 404, `models/${model} is not found`));
    return writeJson(reply.raw, 200, info);
  }
}
