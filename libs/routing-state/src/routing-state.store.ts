import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import type { ServedModel } from '@cpa/catalog';
import type { AttemptResult } from '@cpa/contracts';

export interface RoutingStateOptions {
  redisUrl: string;
  keyPrefix: string;
}
export const ROUTING_STATE_OPTIONS = Symbol('ROUTING_STATE_OPTIONS');

/**
 * One round trip per pick: the script advances the round-robin cursor of the model and
 * returns it with the cooldown deadlines of every candidate, so all scheduler replicas
 * share one rotation.
 */
const PICK_SCRIPT = `
local cursor = redis.call('INCR', KEYS[1])
local cooling = redis.call('HMGET', KEYS[2], unpack(ARGV))
return {cursor, cooling}
`;

@Injectable()
export class RoutingStateStore implements OnModuleDestroy {
  private readonly redis: Redis;

  constructor(@Inject(ROUTING_STATE_OPTIONS) private readonly options: RoutingStateOptions) {
    this.redis = new Redis(options.redisUrl, { enableAutoPipelining: true, lazyConnect: false, maxRetriesPerRequest: 2 });
    this.redis.defineCommand('cpaPick', { numberOfKeys: 2, lua: PICK_SCRIPT });
  }

  private key(...parts: string[]): string {
    return `${this.options.keyPrefix}rs:${parts.join(':')}`;
  }

  async pick(baseModel: string, candidates: readonly ServedModel[], now = Date.now()): Promise<ServedModel | undefined> {
    if (candidates.length === 0) return undefined;
    const sorted = [...candidates].sort((a, b) => (a.credentialId < b.credentialId ? -1 : a.credentialId > b.credentialId ? 1 : 0));
    const [cursor, until] = (await (this.redis as unknown as { cpaPick(...args: string[]): Promise<[number, (string | null)[]]> }).cpaPick(
      this.key('rr', baseModel.toLowerCase()),
      this.key('cooldown', baseModel.toLowerCase()),
      ...sorted.map((c) => c.credentialId),
    ));
    const available = sorted.filter((_, i) => !until[i] || Number(until[i]) <= now);
    if (available.length === 0) return undefined;
    return available[(cursor - 1) % available.length];
  }

  async recordResult(result: AttemptResult, now = Date.now()): Promise<void> {
    const key = this.key('cooldown', result.baseModel.toLowerCase());
    if (result.ok) {
      await this.redis.hdel(key, result.credentialId);
      return;
    }
    const cooldownMs = result.retryAfterMs ?? (result.status === 429 ? 1000 : result.status >= 500 || result.status === 408 ? 60_000 : result.status === 401 || result.status === 403 ? 30 * 60_000 : 0);
    if (cooldownMs > 0) await this.redis.hset(key, result.credentialId, String(now + cooldownMs));
  }

  async onModuleDestroy(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
