import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ManagementAuthService, presentedManagementKey } from './auth.service';
import { clientAddress, TrustedProxies } from './client-address';

/** Guards every /v0/management route with the management secret. */
@Injectable()
export class ManagementAuthGuard implements CanActivate {
  constructor(
    private readonly auth: ManagementAuthService,
    private readonly trustedProxies: TrustedProxies,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const ip = clientAddress(
      request.raw.socket?.remoteAddress ?? request.ip,
      request.headers['x-forwarded-for'],
      this.trustedProxies,
    );
    await this.auth.authorize(presentedManagementKey(request.headers), ip);
    return true;
  }
}
