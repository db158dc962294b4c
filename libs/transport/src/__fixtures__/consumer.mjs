// A consumer process for the delivery tests (libs/transport/src/delivery.int.spec.ts): a
// NestJS microservice on the BUILT transport (dist), so a test can kill -9 it mid-batch.
// It logs every step of every item to the Redis list `<prefix>log` as
// `<consumer>|<id>|taken|started|done`, and holds each item HOLD_MS before answering.
//   env: REDIS_URL, KEY_PREFIX, HOLD_MS, CONSUMER_TTL_MS
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RedisTransportServer, createRedis } = require('../../dist/index.js');
const { Controller, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { MessagePattern, Ctx, Payload } = require('@nestjs/microservices');

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = process.env.KEY_PREFIX;
const holdMs = Number(process.env.HOLD_MS ?? 0);
// createRedis: REDIS_URL may name a cluster (redis+cluster://), see libs/routing-state/src/redis-cluster.int.spec.ts.
const log = createRedis(redisUrl);
const server = new RedisTransportServer({
  redisUrl,
  keyPrefix,
  queues: ['crash'],
  heartbeatMs: 200,
  consumerTtlMs: Number(process.env.CONSUMER_TTL_MS ?? 1000),
});
const record = (id, step) => log.rpush(`${keyPrefix}log`, `${server.consumerName}|${id}|${step}`);

class Work {
  // data.start: the handler marks the item started (as an executor does before its upstream call).
  async work(data, ctx) {
    await record(ctx.id, 'taken');
    if (data.start) {
      await ctx.start();
      await record(ctx.id, 'started');
    }
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    await record(ctx.id, 'done');
    const body = ctx.getBody();
    // What reached the handler of the request body (sent inline or by reference).
    return { by: server.consumerName, n: data.n, body: body && createHash('sha256').update(body).digest('hex') };
  }
}
Payload()(Work.prototype, 'work', 0);
Ctx()(Work.prototype, 'work', 1);
MessagePattern('crash.work')(Work.prototype, 'work', Object.getOwnPropertyDescriptor(Work.prototype, 'work'));
Controller()(Work);
class WorkModule {}
Module({ controllers: [Work] })(WorkModule);

const app = await NestFactory.createMicroservice(WorkModule, { strategy: server, logger: false });
await app.listen();
process.stdout.write(`READY ${server.consumerName}\n`);
process.on('SIGTERM', async () => {
  await app.close();
  await log.quit();
  process.exit(0);
});
