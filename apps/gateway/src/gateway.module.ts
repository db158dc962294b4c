import { Module } from '@nestjs/common';
import { catalogProviders, clientKeyLimitsProvider } from '@cpa/catalog';
import { ClientKeyAdmission, ClientKeyService, GATEWAY_OPTIONS, GatewayService } from '@cpa/client-api';
import { loadEnv } from '@cpa/config';
import { HealthController } from '@cpa/runtime';
import { TransportModule } from '@cpa/transport';
import { EventsController } from './events.controller';
import {
  ADMIN_URL,
  ConsoleProxyController,
  ManagementPassThroughController,
  OAuthCallbackController,
} from './admin-pass-through.controller';
import { ModelsController } from './models.controller';

const env = loadEnv();

@Module({
  // No DbModule: keys, credentials and settings come from the catalog snapshot in Redis.
  imports: [
    TransportModule.forRoot({
      redisUrl: env.redisUrl,
      keyPrefix: env.transportKeyPrefix,
      idleTimeoutMs: env.replyIdleTimeoutMs,
    }),
  ],
  controllers: [
    HealthController,
    ModelsController,
    ManagementPassThroughController,
    OAuthCallbackController,
    ConsoleProxyController,
    EventsController,
  ],
  providers: [
    ...catalogProviders(env.redisUrl, env.transportKeyPrefix),
    ClientKeyService,
    // Rate limits and budgets of client keys, shared by every gateway pod through Redis.
    clientKeyLimitsProvider(env.redisUrl, env.transportKeyPrefix),
    ClientKeyAdmission,
    GatewayService,
    {
      provide: GATEWAY_OPTIONS,
      useValue: {
        requestTimeoutMs: Number(process.env.REQUEST_TIMEOUT_MS ?? 10 * 60_000),
        bodyLimitBytes: env.bodyLimitBytes,
        inFlight: { maxRequests: env.gatewayMaxInFlight, maxBytes: env.gatewayMaxInFlightBytes },
        relay: {
          ...(process.env.RESPONSE_BUFFER_LIMIT_BYTES
            ? { bufferLimitBytes: Number(process.env.RESPONSE_BUFFER_LIMIT_BYTES) }
            : {}),
          ...(process.env.CLIENT_STALL_TIMEOUT_MS
            ? { stallTimeoutMs: Number(process.env.CLIENT_STALL_TIMEOUT_MS) }
            : {}),
        },
      },
    },
    { provide: ADMIN_URL, useValue: env.adminUrl },
  ],
})
export class GatewayModule {}
