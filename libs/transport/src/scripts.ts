import { luaScript } from './body-connection';
import type { RedisConnection } from './connection';

/**
 * The Lua scripts of the delivery contract (see README, "Guarantees and limits"). Each
 * runs atomically in Redis, so a step that must not be half-done (push only below the
 * bound; hand an item on and acknowledge it; claim a dead consumer's items) is one script.
 * Every key a script touches is passed in KEYS (Redis Cluster: one slot with a hash-tagged prefix).
 */

/** Pushes an item unless the queue holds `limit` items (0 = no bound); a refusal is counted. */
const PUSH = `
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('XLEN', KEYS[1]) >= limit then
  redis.call('INCR', KEYS[2])
  return 0
end
redis.call('XADD', KEYS[1], '*', 'm', ARGV[2])
return 1`;

/**
 * PUSH for a request whose body travels by reference: the body is stored (with a TTL) and
 * the item queued in one step, or neither when the queue is full.
 * KEYS: queue, refused counter, body key. ARGV: limit, item, body, body TTL ms.
 */
const PUSH_WITH_BODY = `
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('XLEN', KEYS[1]) >= limit then
  redis.call('INCR', KEYS[2])
  return 0
end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('XADD', KEYS[1], '*', 'm', ARGV[2])
return 1`;

/**
 * Hands an item on (a forward) and acknowledges the item it came from, in one step, so a
 * crash can neither lose it nor deliver it twice. -1: the source item is no longer this
 * consumer's (a live consumer reclaimed it), nothing is done; 0: target full (counted).
 * KEYS: target queue, target refused counter, source queue. ARGV: limit, item, group, source id, consumer.
 */
const FORWARD = `
local owned = redis.call('XPENDING', KEYS[3], ARGV[3], ARGV[4], ARGV[4], 1, ARGV[5])
if #owned == 0 then return -1 end
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('XLEN', KEYS[1]) >= limit then
  redis.call('INCR', KEYS[2])
  return 0
end
redis.call('XADD', KEYS[1], '*', 'm', ARGV[2])
redis.call('XACK', KEYS[3], ARGV[3], ARGV[4])
redis.call('XDEL', KEYS[3], ARGV[4])
return 1`;

/**
 * Parks an item in a queue's delayed set until Redis time + delay, and acknowledges its
 * source item (when there is one: ARGV[3] not empty) in the same step. -1: source not ours.
 * KEYS: delayed set, source queue. ARGV: delay ms, item, source id, group, consumer.
 */
const DELAY = `
if ARGV[3] ~= '' then
  local owned = redis.call('XPENDING', KEYS[2], ARGV[4], ARGV[3], ARGV[3], 1, ARGV[5])
  if #owned == 0 then return -1 end
  redis.call('XACK', KEYS[2], ARGV[4], ARGV[3])
  redis.call('XDEL', KEYS[2], ARGV[3])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
return 1`;

/**
 * Moves up to ARGV[1] due items of a delayed set onto their queue. Returns {moved, ms until
 * the next item is due or -1}.
 */
const PROMOTE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, item in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'm', item)
  redis.call('ZREM', KEYS[1], item)
end
local nextItem = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if #nextItem > 0 then wait = math.max(0, tonumber(nextItem[2]) - now) end
return {#due, wait}`;

/** Acknowledges finished items: out of the consumer's pending list and out of the queue. ARGV: group, ids... */
const ACK = `
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))`;

/**
 * Marks an item started: acknowledged, so it is never delivered again, but only while it
 * is still this consumer's (1); 0 when a live consumer has reclaimed it meanwhile.
 * ARGV: group, id, consumer.
 */
const START = `
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #owned == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`;

/**
 * Takes over the pending items of a consumer whose liveness key (KEYS[2]) has lapsed, and
 * removes that consumer once it has none left. Returns the claimed entries (XCLAIM's shape).
 * ARGV: group, dead consumer, claiming consumer, most items.
 */
const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[2])
local claimed = {}
if #pending > 0 then
  local ids = {}
  for i, p in ipairs(pending) do ids[i] = p[1] end
  claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids))
end
if #pending < tonumber(ARGV[4]) then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
return claimed`;

export const SCRIPTS = {
  transportPush: { numberOfKeys: 2, lua: PUSH },
  transportPushWithBody: { numberOfKeys: 3, lua: PUSH_WITH_BODY },
  transportForward: { numberOfKeys: 3, lua: FORWARD },
  transportDelay: { numberOfKeys: 2, lua: DELAY },
  transportPromote: { numberOfKeys: 2, lua: PROMOTE },
  transportAck: { numberOfKeys: 1, lua: ACK },
  transportStart: { numberOfKeys: 1, lua: START },
  transportClaim: { numberOfKeys: 2, lua: CLAIM },
} as const;

/** A connection with the scripts defined (ioredis sends EVALSHA, and EVAL once when the script is not cached). */
export interface ScriptCommands {
  transportPush(queue: string, refused: string, limit: number, item: Buffer): Promise<number>;
  transportPushWithBody(
    queue: string,
    refused: string,
    bodyKey: string,
    limit: number,
    item: Buffer,
    body: Buffer,
    ttlMs: number,
  ): Promise<number>;
  transportForward(
    target: string,
    refused: string,
    source: string,
    limit: number,
    item: Buffer,
    group: string,
    sourceId: string,
    consumer: string,
  ): Promise<number>;
  transportDelay(
    delayed: string,
    source: string,
    delayMs: number,
    item: Buffer,
    sourceId: string,
    group: string,
    consumer: string,
  ): Promise<number>;
  transportPromote(delayed: string, queue: string, max: number): Promise<[number, number]>;
  transportAck(queue: string, group: string, ...ids: string[]): Promise<number>;
  transportStart(queue: string, group: string, id: string, consumer: string): Promise<number>;
  transportClaimBuffer(
    queue: string,
    deadKey: string,
    group: string,
    dead: string,
    me: string,
    max: number,
  ): Promise<Array<[Buffer, Buffer[]] | null>>;
}

export type ScriptedRedis = RedisConnection & ScriptCommands;

/** PUSH_WITH_BODY for the body connection (`BodyConnection.evalInteger`), which writes the body without copying it. */
export const PUSH_WITH_BODY_SCRIPT = luaScript(PUSH_WITH_BODY);

export function withScripts(redis: RedisConnection): ScriptedRedis {
  for (const [name, definition] of Object.entries(SCRIPTS)) redis.defineCommand(name, definition);
  return redis as ScriptedRedis;
}
