import { isRedisClusterUrl } from '@cpa/contracts';
import { Cluster, Redis, RedisOptions } from 'ioredis';

/** One server or a Redis Cluster, by the URL's scheme (`redis+cluster://`: see README). */
export type RedisConnection = Redis | Cluster;

/**
 * Opens a connection to what `url` names. A cluster URL names one seed node (any node:
 * the client discovers the others); the per-node options go to every node connection.
 * Sharded subscribers: pub/sub of a cluster uses SSUBSCRIBE/SPUBLISH (see `publish`).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisConnection {
  const failInFlight = options.autoResendUnfulfilledCommands === false;
  if (!isRedisClusterUrl(url)) {
    const redis = new Redis(url, options);
    if (failInFlight) failInFlightOnClose(redis);
    return redis;
  }
  const seed = new URL(url);
  const { lazyConnect, enableAutoPipelining, autoPipeliningIgnoredCommands, enableOfflineQueue, ...nodeOptions } =
    options;
  const cluster = new Cluster([{ host: seed.hostname, port: Number(seed.port || 6379) }], {
    lazyConnect,
    enableAutoPipelining,
    autoPipeliningIgnoredCommands,
    enableOfflineQueue,
    shardedSubscribers: true,
    redisOptions: {
      ...nodeOptions,
      username: seed.username ? decodeURIComponent(seed.username) : undefined,
      password: seed.password ? decodeURIComponent(seed.password) : undefined,
      tls: seed.protocol.startsWith('rediss') ? {} : undefined,
    },
  });
  if (failInFlight) cluster.on('+node', (node: Redis) => failInFlightOnClose(node));
  return cluster;
}

/**
 * With `autoResendUnfulfilledCommands: false`, ioredis drops the commands that were in
 * flight when the connection closed without ever settling them, so their callers wait
 * forever — and with auto-pipelining, every later command of the connection queues behind
 * the pipeline that never finishes (seen as a service deaf after Redis restarted). They
 * fail here instead, at the close, before ioredis can set them aside.
 */
function failInFlightOnClose(redis: Redis): void {
  redis.on('close', () => {
    const inFlight = redis.commandQueue;
    if (inFlight.length === 0) return;
    const error = new Error('Redis connection lost before the reply');
    for (let item = inFlight.shift(); item !== undefined; item = inFlight.shift()) item.command.reject(error);
  });
}

/**
 * PUBLISH, or SPUBLISH on a cluster: a cluster's PUBLISH counts only the subscribers of the
 * node that ran it, whereas a shard channel lives on its slot's node, so the receiver count
 * (0 = the caller is gone) stays exact.
 */
export async function publish(connection: RedisConnection, channel: string, message: Buffer | string): Promise<number> {
  return Number(
    connection instanceof Cluster
      ? await connection.spublish(channel, message)
      : await connection.publish(channel, message),
  );
}

/** SUBSCRIBE, or SSUBSCRIBE on a cluster (see `publish`). */
export async function subscribe(connection: RedisConnection, ...channels: string[]): Promise<void> {
  if (channels.length === 0) return;
  if (connection instanceof Cluster) await connection.ssubscribe(...channels);
  else await connection.subscribe(...channels);
}

/** Listens to the messages of the channels `subscribe` joined. */
export function onMessage(connection: RedisConnection, listener: (channel: Buffer, message: Buffer) => void): void {
  connection.on(connection instanceof Cluster ? 'smessageBuffer' : 'messageBuffer', listener);
}

/**
 * Quits after everything already issued: auto-pipelined commands wait for the next tick,
 * but QUIT is never pipelined and would overtake them. A PING joins the pipeline behind them.
 */
export async function closeConnection(connection: RedisConnection | undefined): Promise<void> {
  if (connection === undefined) return;
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.ping();
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
