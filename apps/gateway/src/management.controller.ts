import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { proxyToAdmin } from '@cpa/client-api';

export const ADMIN_URL = Symbol('ADMIN_URL');

/** `/v0/management/*` belongs to the admin service; the gateway passes it through. */
@Controller('v0/management')
export class ManagementController {
  constructor(@Inject(ADMIN_URL) private readonly adminUrl: string) {}

  @All('*')
  passThrough(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    reply.hijack();
    return proxyToAdmin(this.adminUrl, req.raw, reply.raw, Buffer.isBuffer(req.body) ? req.body : undefined);
  }
}
