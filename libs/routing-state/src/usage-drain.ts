import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { UsageRepository, UsageRequestRepository } from '@cpa/db';
import { UsageBuffer } from './usage-buffer';

export const USAGE_DRAIN_INTERVAL_MS = Symbol('USAGE_DRAIN_INTERVAL_MS');
/** Batches (one per scheduler flush) written per statement. */
const BATCHES_PER_WRITE = 200;
/**
 * Batches of request records read from Redis per step: one batch is one scheduler's second
 * of requests (thousands under load), all parsed at once, so few of them; the repository
 * writes them in transactions of at most 500.
 */
const REQUEST_BATCHES_PER_WRITE = 2;
/** A drainer that died holding the lock blocks the others this long at most. */
const LOCK_TTL_MS = 30_000;

/**
 * Writes the usage the schedulers buffered in Redis into Postgres (`usage_daily`, and the
 * per-request records into `usage_requests` with their hourly roll-up), oldest first, one
 * drainer at a time across replicas. A batch leaves Redis only after its write committed,
 * so a Postgres outage loses nothing: the lists grow and are written when Postgres returns.
 * (A drainer killed between the write and the trim would count a batch of daily counts
 * twice on the next pass: at-least-once, never lost. Request records carry a unique key,
 * so rewriting them adds nothing.)
 */
@Injectable()
export class UsageDrain implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageDrain.name);
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<number>;
  private failing = false;

  constructor(
    private readonly buffer: UsageBuffer,
    private readonly usage: UsageRepository,
    private readonly requests: UsageRequestRepository,
    @Optional() @Inject(USAGE_DRAIN_INTERVAL_MS) intervalMs?: number,
  ) {
    this.intervalMs = intervalMs ?? Number(process.env.USAGE_DRAIN_MS ?? 1_000);
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.drain(), this.intervalMs);
    this.timer.unref();
  }

  /** Writes everything buffered; resolves with the number of batches written. Never rejects. */
  drain(): Promise<number> {
    this.draining ??= this.run().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async run(): Promise<number> {
    const token = randomUUID();
    let written = 0;
    try {
      if (!(await this.buffer.lock(token, LOCK_TTL_MS))) return 0;
      try {
        for (;;) {
          const { increments, items } = await this.buffer.peek(BATCHES_PER_WRITE);
          if (items === 0) break;
          await this.usage.incrementMany(increments);
          await this.buffer.drop(items);
          written += items;
        }
        for (;;) {
          const { records, items } = await this.buffer.peekRequests(REQUEST_BATCHES_PER_WRITE);
          if (items === 0) break;
          await this.requests.write(records);
          await this.buffer.dropRequests(items);
          written += items;
        }
      } finally {
        await this.buffer.unlock(token).catch(() => undefined);
      }
      if (this.failing) this.logger.log(`usage written to Postgres again (${written} buffered batches)`);
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.logger.warn(
          `usage stays buffered in Redis, retrying every ${this.intervalMs} ms: ${(err as Error).message}`,
        );
      this.failing = true;
    }
    return written;
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.drain();
  }
}
