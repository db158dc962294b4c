import { Controller, Get } from '@nestjs/common';

/** Liveness for load balancers and compose health checks; CLIProxyAPI's body (HEAD comes with GET in Fastify). */
@Controller()
export class HealthController {
  @Get('healthz')
  health() {
    return { status: 'ok' };
  }
}
