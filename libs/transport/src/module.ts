import { DynamicModule, Module } from '@nestjs/common';
import { RedisTransportClient } from './client';
import { RedisTransportClientOptions, RedisTransportServerOptions, transportEnv } from './options';
import { RedisTransportServer } from './server';

/**
 * Makes a `RedisTransportClient` injectable everywhere (inject it by its class). Options
 * not given come from `REDIS_URL`, `TRANSPORT_KEY_PREFIX` and `TRANSPORT_QUEUE_LIMIT`. The client closes on
 * application shutdown, after a microservice's own server has drained.
 */
@Module({})
export class TransportModule {
  static forRoot(options: Partial<RedisTransportClientOptions> = {}): DynamicModule {
    return {
      module: TransportModule,
      global: true,
      providers: [{ provide: RedisTransportClient, useFactory: () => createTransportClient(options) }],
      exports: [RedisTransportClient],
    };
  }
}

export function createTransportClient(options: Partial<RedisTransportClientOptions> = {}): RedisTransportClient {
  return new RedisTransportClient({ ...envUnlessGiven(options), ...options } as RedisTransportClientOptions);
}

/**
 * The strategy for `NestFactory.createMicroservice(AppModule, { strategy: createTransportServer({ queues }) })`,
 * connected according to `REDIS_URL` and `TRANSPORT_KEY_PREFIX` unless options say otherwise.
 */
export function createTransportServer(
  options: Omit<RedisTransportServerOptions, 'redisUrl'> & Partial<Pick<RedisTransportServerOptions, 'redisUrl'>>,
): RedisTransportServer {
  return new RedisTransportServer({ ...envUnlessGiven(options), ...options } as RedisTransportServerOptions);
}

/** Reads (and validates) the environment only for what the options leave open. */
function envUnlessGiven(options: {
  redisUrl?: string;
  keyPrefix?: string;
  queueLimit?: number;
}): Partial<ReturnType<typeof transportEnv>> {
  return options.redisUrl !== undefined && options.keyPrefix !== undefined && options.queueLimit !== undefined
    ? {}
    : transportEnv();
}
