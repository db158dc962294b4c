import { Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { AttemptFailure, AttemptResult } from '@cpa/contracts';
import { utcDay, type UsageIncrement } from '@cpa/db/light';
import { UsageBuffer } from './usage-buffer';

/** Distinct (day, credential, client key, model) rows kept while Redis is unreachable. */
const MAX_PENDING_ROWS = 50_000;

/**
 * Counts every attempt per day, credential, client key and model, and pushes the counts to
 * the usage buffer in Redis once per second instead of once per request (the admin writes
 * them to Postgres, so the scheduler needs no database and a Postgres outage loses
 * nothing). Counts are summed in memory, so a Redis outage costs memory per distinct row,
 * not per request, and nothing is lost until the cap; a failed flush keeps its rows.
 */
@Injectable()
export class UsageRecorder implements OnModuleDestroy {
  private readonly logger = new Logger(UsageRecorder.name);
  private pending = new Map<string, UsageIncrement>();
  private readonly timer: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private dropped = 0;
  private failing = false;

  constructor(
    private readonly buffer: UsageBuffer,
    @Optional() intervalMs = Number(process.env.USAGE_FLUSH_MS ?? 1000),
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(result: AttemptResult, now = new Date()): void {
    const day = utcDay(now);
    const clientKeyId = result.clientKeyId ?? '';
    const key = `${day}\u0000${result.credentialId}\u0000${clientKeyId}\u0000${result.baseModel}`;
    let row = this.pending.get(key);
    if (!row) {
      if (this.pending.size >= MAX_PENDING_ROWS) {
        this.dropped += 1;
        return;
      }
      row = { day, credentialId: result.credentialId, clientKeyId, model: result.baseModel, requests: 0, failures: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
      this.pending.set(key, row);
    }
    row.requests! += 1;
    if (!result.ok) row.failures! += 1;
    if (result.usage) {
      row.inputTokens! += result.usage.inputTokens;
      row.outputTokens! += result.usage.outputTokens;
      row.cachedTokens! += result.usage.cachedTokens ?? 0;
      row.reasoningTokens! += result.usage.reasoningTokens ?? 0;
    }
  }

  /** A failure before the first byte counts as a failed attempt of that credential. */
  recordFailure(failure: AttemptFailure, now = new Date()): void {
    const { execute } = failure;
    this.record({ credentialId: execute.credentialId, family: execute.family, baseModel: execute.baseModel, clientKeyId: execute.route.clientKeyId, ok: false, status: failure.status }, now);
  }

  /** Writes what was counted so far; concurrent calls share one write. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.buffer
      .push([...batch.values()])
      .then(() => {
        if (this.failing) this.logger.log('usage flushes to Redis again');
        this.failing = false;
      })
      .catch((err: unknown) => {
        // Put the counts back (merged with anything recorded meanwhile) for the next flush.
        for (const [key, row] of batch) {
          const current = this.pending.get(key);
          if (!current) this.pending.set(key, row);
          else for (const field of ['requests', 'failures', 'inputTokens', 'outputTokens', 'cachedTokens', 'reasoningTokens'] as const) current[field] = (current[field] ?? 0) + (row[field] ?? 0);
        }
        if (!this.failing) this.logger.warn(`usage flush failed, rows kept and retried every flush: ${(err as Error).message}`);
        this.failing = true;
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.dropped > 0) {
          this.logger.warn(`usage: ${this.dropped} attempts not counted while Redis was unreachable (row cap ${MAX_PENDING_ROWS})`);
          this.dropped = 0;
        }
      });
    return this.flushing;
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
