import { Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { AttemptFailure, AttemptResult, ResponseHead, RouteRequest } from '@cpa/contracts';
import { utcDay, type UsageIncrement, type UsageRequestRecord } from '@cpa/db/light';
import { isFrame } from '@cpa/transport';
import { recordOfReply, recordOfResult, type LastAttempt } from './request-usage';
import { UsageBuffer } from './usage-buffer';

/** Distinct (day, credential, client key, model) rows kept while Redis is unreachable. */
const MAX_PENDING_ROWS = 50_000;
/** Per-request records kept while Redis is unreachable (about 300 bytes each). */
const MAX_PENDING_REQUESTS = 100_000;
const DAY_MS = 24 * 3_600_000;

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
  private requests: UsageRequestRecord[] = [];
  private requestsFlushing?: Promise<void>;
  private droppedRequests = 0;
  private requestsFailing = false;
  private readonly timer: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private dropped = 0;
  private failing = false;
  private today = { name: '', startsAt: 0, endsAt: 0 };

  constructor(
    private readonly buffer: UsageBuffer,
    @Optional() intervalMs = Number(process.env.USAGE_FLUSH_MS ?? 1000),
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(result: AttemptResult, now?: Date): void {
    // The attempt that answered the client ends its request: one usage record for the whole request.
    const request = recordOfResult(result);
    if (request) this.recordRequest(request);
    const day = this.dayOf(now?.getTime() ?? Date.now());
    const clientKeyId = result.clientKeyId ?? '';
    const key = `${day}\u0000${result.credentialId}\u0000${clientKeyId}\u0000${result.baseModel}`;
    let row = this.pending.get(key);
    if (!row) {
      if (this.pending.size >= MAX_PENDING_ROWS) {
        this.dropped += 1;
        return;
      }
      row = {
        day,
        credentialId: result.credentialId,
        clientKeyId,
        model: result.baseModel,
        requests: 0,
        failures: 0,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
      };
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

  /** The UTC day (`utcDay`) of `ms`; the day's name is made once a day, not per result. */
  private dayOf(ms: number): string {
    if (ms < this.today.startsAt || ms >= this.today.endsAt) {
      const startsAt = ms - (ms % DAY_MS);
      this.today = { name: utcDay(new Date(startsAt)), startsAt, endsAt: startsAt + DAY_MS };
    }
    return this.today.name;
  }

  /** A failure before the first byte counts as a failed attempt of that credential. */
  recordFailure(failure: AttemptFailure, now?: Date): void {
    const { execute } = failure;
    this.record(
      {
        credentialId: execute.credentialId,
        family: execute.family,
        baseModel: execute.baseModel,
        clientKeyId: execute.route.clientKeyId,
        ok: false,
        status: failure.status,
      },
      now,
    );
  }

  /**
   * Passes a scheduler handler's reply through; a final reply (a frame, not a forward to an
   * executor or a later round) is the request's outcome, recorded with the attempt it follows.
   */
  async recordReply<T>(reply: Promise<T> | T, route: RouteRequest, last?: LastAttempt): Promise<T> {
    const value = await reply;
    if (isFrame(value)) {
      const status = (value.meta as Partial<ResponseHead> | undefined)?.status;
      if (typeof status === 'number') this.recordRequest(recordOfReply(route, status, last, Date.now()));
    }
    return value;
  }

  recordRequest(record: UsageRequestRecord): void {
    if (this.requests.length >= MAX_PENDING_REQUESTS) {
      this.droppedRequests += 1;
      return;
    }
    this.requests.push(record);
  }

  /** Writes what was counted and recorded so far; concurrent calls share one write. */
  async flush(): Promise<void> {
    await Promise.all([this.flushCounts(), this.flushRequests()]);
  }

  /** Request records go as one batch; a failed push puts them back in front of newer ones. */
  private flushRequests(): Promise<void> {
    if (this.requestsFlushing) return this.requestsFlushing;
    if (this.requests.length === 0) return Promise.resolve();
    const batch = this.requests;
    this.requests = [];
    this.requestsFlushing = this.buffer
      .pushRequests(batch)
      .then(() => {
        if (this.requestsFailing) this.logger.log('usage request records flush to Redis again');
        this.requestsFailing = false;
      })
      .catch((err: unknown) => {
        const kept = [...batch, ...this.requests];
        this.droppedRequests += Math.max(0, kept.length - MAX_PENDING_REQUESTS);
        this.requests = kept.slice(0, MAX_PENDING_REQUESTS);
        if (!this.requestsFailing)
          this.logger.warn(`usage request records kept in memory, retried every flush: ${(err as Error).message}`);
        this.requestsFailing = true;
      })
      .finally(() => {
        this.requestsFlushing = undefined;
        if (this.droppedRequests > 0) {
          this.logger.warn(
            `usage: ${this.droppedRequests} request records not kept while Redis was unreachable (cap ${MAX_PENDING_REQUESTS})`,
          );
          this.droppedRequests = 0;
        }
      });
    return this.requestsFlushing;
  }

  private flushCounts(): Promise<void> {
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
          else
            for (const field of [
              'requests',
              'failures',
              'inputTokens',
              'outputTokens',
              'cachedTokens',
              'reasoningTokens',
            ] as const)
              current[field] = (current[field] ?? 0) + (row[field] ?? 0);
        }
        if (!this.failing)
          this.logger.warn(`usage flush failed, rows kept and retried every flush: ${(err as Error).message}`);
        this.failing = true;
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.dropped > 0) {
          this.logger.warn(
            `usage: ${this.dropped} attempts not counted while Redis was unreachable (row cap ${MAX_PENDING_ROWS})`,
          );
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
