import {
  HttpException,
  Injectable,
  ServiceUnavailableException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { INVALID_API_KEY_BODY, MISSING_API_KEY_BODY } from '@cpa/contracts';
import { ClientKeyService, extractClientKey, type ClientIdentity, type KeyRefusal } from './client-key.service';
import { queryOf } from './request-fields';

/** A rejected client key, answered with CLIProxyAPI's exact body (not the client format's envelope). */
export class ClientKeyRejected extends HttpException {
  constructor(reason: KeyRefusal) {
    super(REJECTION_BODIES[reason], 401);
  }
}

/** Model listings have no client format of their own: CLIProxyAPI's plain shape for every refusal. */
const REJECTION_BODIES: Record<KeyRefusal, object> = {
  missing: MISSING_API_KEY_BODY,
  invalid: INVALID_API_KEY_BODY,
  disabled: { error: 'This client key is disabled' },
  expired: { error: 'This client key has expired' },
};

/** The key a guarded request was admitted with (see `admittedClient`). */
const ADMITTED = Symbol('admitted client key');

/** The client key ClientKeyGuard admitted this request with. */
export function admittedClient(request: object): ClientIdentity {
  return (request as { [ADMITTED]: ClientIdentity })[ADMITTED];
}

/**
 * Client-key check for the routes served by Nest handlers (model listings); the proxy
 * routes check inside GatewayService, as they are not Nest handlers.
 */
@Injectable()
export class ClientKeyGuard implements CanActivate {
  constructor(private readonly clientKeys: ClientKeyService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    let verdict;
    try {
      verdict = await this.clientKeys.check(extractClientKey(request.headers, queryOf(request.url)));
    } catch {
      throw new ServiceUnavailableException('Client key verification is temporarily unavailable; retry shortly');
    }
    if (!verdict.ok) throw new ClientKeyRejected(verdict.reason);
    (request as unknown as { [ADMITTED]: ClientIdentity })[ADMITTED] = verdict.client;
    return true;
  }
}
