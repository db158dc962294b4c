import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import type { DbClient } from '../unit-of-work';
import { utcDay, type UsageIncrement } from '../usage-day';

export { utcDay, type UsageIncrement } from '../usage-day';

const COUNTERS = ['requests', 'failures', 'inputTokens', 'outputTokens', 'cachedTokens', 'reasoningTokens'] as const;
type Counter = (typeof COUNTERS)[number];

export interface UsageRow extends Record<Counter, number> {
  day: string;
  credentialId: string;
  clientKeyId: string;
  model: string;
}

export interface UsageQuery {
  /** Inclusive bounds, `YYYY-MM-DD` or Date (UTC day). */
  from: string | Date;
  to: string | Date;
  credentialId?: string;
  clientKeyId?: string;
  model?: string;
}

/** Sums increments that hit the same counter row, in a stable order (avoids deadlocks between writers). */
export function aggregateUsage(entries: readonly UsageIncrement[]): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const entry of entries) {
    const row: UsageRow = {
      day: utcDay(entry.day),
      credentialId: entry.credentialId,
      clientKeyId: entry.clientKeyId ?? '',
      model: entry.model,
      requests: 0,
      failures: 0,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      reasoningTokens: 0,
    };
    const key = JSON.stringify([row.day, row.credentialId, row.clientKeyId, row.model]);
    const target = rows.get(key) ?? row;
    rows.set(key, target);
    for (const counter of COUNTERS) {
      const amount = entry[counter] ?? (counter === 'requests' ? 1 : 0);
      if (!Number.isSafeInteger(amount) || amount < 0)
        throw new RangeError(`usage ${counter} must be a non-negative integer`);
      target[counter] += amount;
    }
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** Daily usage counters per credential, client key and model. */
@Injectable()
export class UsageRepository {
  constructor(@Inject(PrismaService) private readonly prisma: DbClient) {}

  increment(entry: UsageIncrement): Promise<void> {
    return this.incrementMany([entry]);
  }

  /** Adds a batch of observations in one statement (INSERT ... ON CONFLICT DO UPDATE). */
  async incrementMany(entries: readonly UsageIncrement[]): Promise<void> {
    const rows = aggregateUsage(entries);
    if (rows.length === 0) return;
    const column = <K extends keyof UsageRow>(key: K) => rows.map((row) => String(row[key]));
    await this.prisma.$executeRaw`
      INSERT INTO "usage_daily" AS u ("day", "credential_id", "client_key_id", "model", "requests", "failures",
        "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
      SELECT * FROM unnest(${column('day')}::date[], ${column('credentialId')}::text[], ${column('clientKeyId')}::text[],
        ${column('model')}::text[], ${column('requests')}::int[], ${column('failures')}::int[],
        ${column('inputTokens')}::bigint[], ${column('outputTokens')}::bigint[], ${column('cachedTokens')}::bigint[],
        ${column('reasoningTokens')}::bigint[])
      ON CONFLICT ("day", "credential_id", "client_key_id", "model") DO UPDATE SET
        "requests" = u."requests" + EXCLUDED."requests",
        "failures" = u."failures" + EXCLUDED."failures",
        "input_tokens" = u."input_tokens" + EXCLUDED."input_tokens",
        "output_tokens" = u."output_tokens" + EXCLUDED."output_tokens",
        "cached_tokens" = u."cached_tokens" + EXCLUDED."cached_tokens",
        "reasoning_tokens" = u."reasoning_tokens" + EXCLUDED."reasoning_tokens"`;
  }

  /** Requests and failures of each credential over all recorded days. */
  async totalsByCredential(): Promise<Map<string, { requests: number; failures: number }>> {
    const sums = await this.prisma.usageDaily.groupBy({
      by: ['credentialId'],
      _sum: { requests: true, failures: true },
    });
    return new Map(
      sums.map((u) => [u.credentialId, { requests: u._sum.requests ?? 0, failures: u._sum.failures ?? 0 }]),
    );
  }

  async query(range: UsageQuery): Promise<UsageRow[]> {
    const where: Prisma.UsageDailyWhereInput = {
      day: { gte: new Date(`${utcDay(range.from)}T00:00:00Z`), lte: new Date(`${utcDay(range.to)}T00:00:00Z`) },
    };
    if (range.credentialId !== undefined) where.credentialId = range.credentialId;
    if (range.clientKeyId !== undefined) where.clientKeyId = range.clientKeyId;
    if (range.model !== undefined) where.model = range.model;
    const rows = await this.prisma.usageDaily.findMany({
      where,
      orderBy: [{ day: 'asc' }, { credentialId: 'asc' }, { clientKeyId: 'asc' }, { model: 'asc' }],
    });
    return rows.map((row) => ({
      day: utcDay(row.day),
      credentialId: row.credentialId,
      clientKeyId: row.clientKeyId,
      model: row.model,
      requests: row.requests,
      failures: row.failures,
      inputTokens: Number(row.inputTokens),
      outputTokens: Number(row.outputTokens),
      cachedTokens: Number(row.cachedTokens),
      reasoningTokens: Number(row.reasoningTokens),
    }));
  }
}
