import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Catalog } from '@cpa/catalog';
import {
  claudeModelList,
  geminiModelList,
  GatewayService,
  openAIModelList,
  wantsClaudeModelList,
  writeJson,
} from '@cpa/client-api';
import { clientErrorBody, type ClientFormat } from '@cpa/contracts';

const queryOf = (req: FastifyRequest) => new URLSearchParams((req.url.split('?')[1] ?? ''));
const bodyOf = (req: FastifyRequest) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

/** The client API: OpenAI, Anthropic and Gemini routes, all relayed through the scheduler. */
@Controller()
export class ProxyController {
  constructor(
    private readonly gateway: GatewayService,
    private readonly catalog: Catalog,
  ) {}

  private proxy(format: ClientFormat, req: FastifyRequest, reply: FastifyReply, extra: { urlModel?: string; action?: string } = {}) {
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
    return this.proxy('claude', req, reply, { action: 'countTokens' });
  }

  @Post('v1beta/models/:modelAction')
  gemini(@Param('modelAction') modelAction: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const separator = modelAction.lastIndexOf(':');
    const urlModel = separator > 0 ? modelAction.slice(0, separator) : modelAction;
    const action = separator > 0 ? modelAction.slice(separator + 1) : '';
    if (!['generateContent', 'streamGenerateContent', 'countTokens'].includes(action)) {
      reply.hijack();
      return writeJson(reply.raw, 404, clientErrorBody('gemini', 404, `Unknown action "${action}"`));
    }
    return this.proxy('gemini', req, reply, { urlModel, action });
  }

  @Get('v1/models')
  models(@Req() req: FastifyRequest) {
    return wantsClaudeModelList(req.headers) ? claudeModelList(this.catalog.snapshot) : openAIModelList(this.catalog.snapshot);
  }

  @Get('v1beta/models')
  geminiModels() {
    return geminiModelList(this.catalog.snapshot);
  }
}
