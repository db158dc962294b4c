import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRedisServer, waitFor } from '@cpa/testing';
import type { Redis } from 'ioredis';
import { RedisTransportClient, RedisTransportServer } from './index';

/**
 * Redis killed and restarted empty (no persistence) while both ends hold commands in
 * flight: ioredis would drop those commands without settling them, and an auto-pipelined
 * connection then queues every later command behind them for ever. Both ends must come
 * back by themselves: the stuck command fails, the queues and the consumer group are made
 * again, and the next request is answered.
 */
@Controller()
class EchoController {
  @MessagePattern('echo.say')
  say(@Payload() data: unknown) {
    return { echo: data };
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

let redis: TestRedisServer;
let app: INestMicroservice;
let server: RedisTransportServer;
let client: RedisTransportClient;

beforeAll(async () => {
  redis = await TestRedisServer.start();
  server = new RedisTransportServer({ redisUrl: redis.url, keyPrefix: 'restart:', queues: ['echo'] });
  app = await NestFactory.createMicroservice(EchoModule, { strategy: server, logger: false });
  await app.listen();
  client = new RedisTransportClient({ redisUrl: redis.url, keyPrefix: 'restart:', idleTimeoutMs: 2_000 });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await app?.close();
  await redis?.kill();
});

const say = (text: string) => lastValueFrom(client.request('echo.say', text, { deadline: Date.now() + 3_000 }));

describe('Redis killed and restarted empty', () => {
  it('fails the commands in flight, then answers again without a restart of either end', async () => {
    expect(await say('before')).toEqual({ meta: { echo: 'before' } });

    // A command in flight on each end's auto-pipelined command connection when Redis dies.
    const serverCmd = server.unwrap<{ cmd: Redis }>().cmd;
    const clientCmd = client.unwrap<{ cmd: Redis }>().cmd;
    const inFlight = [serverCmd, clientCmd].map((cmd) =>
      cmd.call('BLPOP', 'restart:never', '30').then(
        () => 'answered',
        (err: Error) => err.message,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    await redis.kill();
    expect(await Promise.all(inFlight)).toEqual([
      'Redis connection lost before the reply',
      'Redis connection lost before the reply',
    ]);

    await redis.restart();
    let last = '';
    await waitFor(
      async () => {
        try {
          return JSON.stringify(await say('after')) === JSON.stringify({ meta: { echo: 'after' } });
        } catch (err) {
          last = (err as Error).message;
          return false;
        }
      },
      20_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last error: ${last}`);
    });
    // Later commands of both connections are not stuck behind the failed ones.
    expect(await serverCmd.ping()).toBe('PONG');
    expect(await clientCmd.ping()).toBe('PONG');
  }, 40_000);
});
