import { All, Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { proxyToAdmin } from '@cpa/client-api';

/** Injection token: base URL of the admin service the controllers below pass requests to. */
export const ADMIN_URL = Symbol('ADMIN_URL');

/** `/v0/management/*` belongs to the admin service; the gateway passes it through. */
@Controller('v0/management')
export class ManagementPassThroughController {
  constructor(@Inject(ADMIN_URL) private readonly adminUrl: string) {}

  @All('*')
  passThrough(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    return proxyToAdmin(this.adminUrl, req.raw, reply.raw, Buffer.isBuffer(req.body) ? req.body : undefined);
  }
}

/**
 * The provider's browser redirect of a login (`/anthropic/callback`, `/codex/callback`,
 * `/google/callback`, ...): any gateway pod passes it to the admin service, which finishes
 * the login from Postgres and answers the page the operator sees.
 */
@Controller()
export class OAuthCallbackController {
  constructor(@Inject(ADMIN_URL) private readonly adminUrl: string) {}

  @Get(':route/callback')
  passThrough(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    return proxyToAdmin(this.adminUrl, req.raw, reply.raw, undefined);
  }
}

/** The admin console (`/admin`, its assets and pages) is served by the admin service too. */
@Controller('admin')
export class ConsoleProxyController {
  constructor(@Inject(ADMIN_URL) private readonly adminUrl: string) {}

  @Get()
  root(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    return proxyToAdmin(this.adminUrl, req.raw, reply.raw, undefined);
  }

  @Get('*')
  passThrough(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    return proxyToAdmin(this.adminUrl, req.raw, reply.raw, undefined);
  }
}
