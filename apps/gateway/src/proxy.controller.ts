import { Controller, Get, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Catalog } from '@cpa/catalog';
import {
  ClientKeyGuard,
  claudeModelList,
  geminiModelInfo,
  geminiModelList,
  GatewayService,
  openAIModelList,
  readGeminiCall,
  wantsClaudeModelList,
  writeJson,
  type ProxyCall,
} from '@cpa/client-api';
import { clientErrorBody, RouteActions, type ClientFormat } from '@cpa/contracts';

const queryOf = (req: FastifyRequest) => new URLSearchParams((req.url.split('?')[1] ?? ''));
const bodyOf = (req: FastifyRequest) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

/** The client API: OpenAI, Anthropic and Gemini routes, all relayed through the scheduler. */
@Controller()
export class ProxyController {
  constructor(
    private readonly gateway: GatewayService,
    private readonly catalog: Catalog,
  ) {}

  private proxy(format: ClientFormat, req: FastifyRequest, reply: FastifyReply, extra: Partial<Pick<ProxyCall, 'urlModel' | 'urlStream' | 'action'>> = {}) {
    reply.hijack();
    return this.gateway.proxy({ format, req: req.raw, res: reply.raw, body: bodyOf(req), query: queryOf(req), ...extra });
  }

  @Post('v1/chat/completions')
  chatCompletions(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return this.proxy('openai-chat', req, reply);
  }

  @Post('v1/completions')
  completions(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return this.proxy('openai-completions', req, reply);
  }

  @Post('v1/responses')
  responses(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return this.proxy('openai-responses', req, reply);
  }

  @Post('v1/messages')
  messages(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return this.proxy('claude', req, reply);
  }

  @Post('v1/messages/count_tokens')
  countTokens(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    return this.proxy('claude', req, reply, { action: RouteActions.countTokens });
  }

  @Post('v1beta/models/:modelAction')
  gemini(@Param('modelAction') modelAction: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const call = readGeminiCall(modelAction, queryOf(req));
    if (!call) {
      reply.hijack();
      return writeJson(reply.raw, 404, clientErrorBody('gemini', 404, `Unknown action in "${modelAction}"`));
    }
    return this.proxy('gemini', req, reply, call);
  }

  @Get('v1/models')
  @UseGuards(ClientKeyGuard)
  models(@Req() req: FastifyRequest) {
    return wantsClaudeModelList(req.headers) ? claudeModelList(this.catalog.snapshot) : openAIModelList(this.catalog.snapshot);
  }

  @Get('v1beta/models')
  @UseGuards(ClientKeyGuard)
  geminiModels() {
    return geminiModelList(this.catalog.snapshot);
  }

  @Get('v1beta/models/:model')
  @UseGuards(ClientKeyGuard)
  geminiModel(@Param('model') model: string, @Res() reply: FastifyReply) {
    const info = geminiModelInfo(this.catalog.snapshot, decodeURIComponent(model));
    reply.hijack();
    if (!info) return writeJson(reply.raw, 404, clientErrorBody('gemini', 404, `models/${model} is not found`));
    return writeJson(reply.raw, 200, info);
  }
}
