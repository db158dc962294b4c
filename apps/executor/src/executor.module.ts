import { Module } from '@nestjs/common';
import { catalogProviders } from '@cpa/catalog';
import { loadEnv } from '@cpa/config';
import { Patterns, type AttemptResult } from '@cpa/contracts';
import { SecretBox } from '@cpa/db/light';
import {
  ATTEMPT_REPORTER,
  CREDENTIAL_REFRESHER,
  ExecutionService,
  REQUEST_ERROR_LOG,
  RequestErrorLogStore,
  SecretStore,
  TransportCredentialRefresher,
  UpstreamClient,
} from '@cpa/providers';
import { HealthController } from '@cpa/runtime';
import { RedisTransportClient, TransportModule } from '@cpa/transport';
import { ExecuteController } from './execute.controller';

const env = loadEnv();

/**
 * Attempt results are batched: the scheduler then pops and handles one item per batch, not one
 * per request. A result records a success (or a stream that failed after its first byte) and
 * the tokens used; failures before the first byte go to the scheduler at once (attemptFailed).
 * 25 ms: at a few hundred requests a second, several results share one push, one read and one
 * acknowledgement (the scheduler's system calls per request at concurrency 1 fell by a quarter
 * against 5 ms), and a success still reaches the routing state well within a human's next turn.
 */
const ATTEMPT_RESULT_BATCH_MS = 25;

@Module({
  // No DbModule: credentials and their encrypted secrets come from the catalog snapshot in Redis.
  imports: [TransportModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix })],
  controllers: [HealthController, ExecuteController],
  providers: [
    ...catalogProviders(env.redisUrl, env.transportKeyPrefix),
    SecretStore,
    // Opens the snapshot's encrypted secrets: CPA_SECRET_KEY (or the development key file).
    { provide: SecretBox, useFactory: () => SecretBox.fromEnv() },
    ExecutionService,
    // Failed upstream exchanges for GET /v0/management/request-error-logs (REQUEST_ERROR_LOG_LIMIT).
    {
      provide: REQUEST_ERROR_LOG,
      useFactory: () => RequestErrorLogStore.connect(env.redisUrl, env.transportKeyPrefix),
    },
    { provide: UpstreamClient, useFactory: () => new UpstreamClient() },
    // Refresh-on-401 for OAuth credentials: the refresh-worker refreshes, this executor retries once.
    {
      provide: CREDENTIAL_REFRESHER,
      inject: [RedisTransportClient],
      useFactory: (client: RedisTransportClient) => new TransportCredentialRefresher(client),
    },
    {
      provide: ATTEMPT_REPORTER,
      inject: [RedisTransportClient],
      useFactory: (client: RedisTransportClient) => ({
        report: client.batch<AttemptResult>(Patterns.attemptResult, { maxDelayMs: ATTEMPT_RESULT_BATCH_MS }),
      }),
    },
  ],
})
export class ExecutorModule {}
