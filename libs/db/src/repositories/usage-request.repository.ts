import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import {
  addHistogram,
  isErrorStatus,
  rollupHourly,
  type UsageHourlyRow,
  type UsageRequestRecord,
} from '../usage-request';

export * from '../usage-request';

/** Which requests a listing, export or summary covers; every field narrows. */
export interface UsageRequestFilter {
  /** Inclusive lower bound of `at`. */
  from?: Date;
  /** Exclusive upper bound of `at`. */
  to?: Date;
  clientKeyId?: string;
  credentialId?: string;
  family?: string;
  model?: string;
  /** An exact HTTP status, or every error (>= 400) / every success. */
  status?: number | 'error' | 'success';
}

/** A stored request (ids are strings: they are BIGSERIAL). */
export interface UsageRequestRow extends Omit<UsageRequestRecord, 'key' | 'at'> {
  id: string;
  at: Date;
  source: string;
}

export interface UsageBucket {
  start: Date;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  latencyHist: number[];
  ttfbHist: number[];
}

/** One client key's usage in a day and the month it falls in (from the hourly roll-up). */
export interface ClientKeyUsage {
  requestsToday: number;
  /** Input + output tokens, as the limits count them. */
  tokensToday: number;
  tokensMonth: number;
  /** Epoch ms of its newest stored request; null when none is stored (never used, or past retention). */
  lastUsedAt: number | null;
}

/** Rows deleted per statement by the retention sweep (short locks, bounded WAL per statement). */
const DELETE_CHUNK = 5_000;
/** pg advisory lock key of the retention sweep: one admin replica sweeps at a time. */
const RETENTION_LOCK = 0x75736167; // "usag"

/** What makes an imported record the same as a stored one (CLIProxyAPI's dedup key, on our fields). */
export function usageFingerprint(
  r: Pick<
    UsageRequestRow,
    | 'clientKeyId'
    | 'credentialId'
    | 'model'
    | 'status'
    | 'inputTokens'
    | 'outputTokens'
    | 'cachedTokens'
    | 'reasoningTokens'
  > & { at: Date | number },
): string {
  const at = typeof r.at === 'number' ? r.at : r.at.getTime();
  return JSON.stringify([
    r.clientKeyId,
    r.model,
    at,
    r.credentialId,
    isErrorStatus(r.status),
    r.inputTokens,
    r.outputTokens,
    r.reasoningTokens,
    r.cachedTokens,
  ]);
}

function statusWhere(status: UsageRequestFilter['status']): Prisma.IntFilter | number | undefined {
  if (status === undefined) return undefined;
  if (status === 'error') return undefined; // handled by the OR below
  if (status === 'success') return { gte: 1, lt: 400 };
  return status;
}

function requestWhere(filter: UsageRequestFilter): Prisma.UsageRequestWhereInput {
  const where: Prisma.UsageRequestWhereInput = {};
  if (filter.from || filter.to)
    where.at = { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) };
  if (filter.clientKeyId !== undefined) where.clientKeyId = filter.clientKeyId;
  if (filter.credentialId !== undefined) where.credentialId = filter.credentialId;
  if (filter.family !== undefined) where.family = filter.family;
  if (filter.model !== undefined) where.model = filter.model;
  const status = statusWhere(filter.status);
  if (status !== undefined) where.status = status;
  if (filter.status === 'error') where.OR = [{ status: { gte: 400 } }, { status: { lte: 0 } }];
  return where;
}

type StoredRequest = Prisma.UsageRequestGetPayload<object>;

function toRow(row: StoredRequest): UsageRequestRow {
  return {
    id: row.id.toString(),
    at: row.at,
    clientKeyId: row.clientKeyId,
    credentialId: row.credentialId,
    family: row.family,
    model: row.model,
    status: row.status,
    latencyMs: row.latencyMs,
    ttfbMs: row.ttfbMs,
    inputTokens: Number(row.inputTokens),
    outputTokens: Number(row.outputTokens),
    cachedTokens: Number(row.cachedTokens),
    reasoningTokens: Number(row.reasoningTokens),
    attempts: row.attempts,
    requestId: row.requestId,
    source: row.source,
  };
}

/** Records per INSERT (and per transaction) of `UsageRequestRepository.write`. */
export const WRITE_CHUNK = 500;

/**
 * Per-request usage rows and their hourly roll-up. Rows and roll-up are written in one
 * transaction, and a request key already stored is skipped (so is its roll-up share): a
 * batch the drain writes twice still counts once.
 */
@Injectable()
export class UsageRequestRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Stores the records not stored yet and adds them to the hourly roll-up; resolves with how
   * many were new. At most WRITE_CHUNK records per transaction: the admin's memory for one
   * statement (the JSON parameter, the returned rows) stays bounded however many a drain
   * brings, and a chunk written twice (a failure after an earlier chunk) adds nothing.
   */
  async write(records: readonly (UsageRequestRecord & { source?: string })[]): Promise<number> {
    let inserted = 0;
    for (let at = 0; at < records.length; at += WRITE_CHUNK)
      inserted += await this.writeChunk(records.slice(at, at + WRITE_CHUNK));
    return inserted;
  }

  private async writeChunk(records: readonly (UsageRequestRecord & { source?: string })[]): Promise<number> {
    const json = JSON.stringify(
      records.map((r) => ({
        request_key: r.key,
        request_id: r.requestId,
        at: new Date(r.at).toISOString(),
        client_key_id: r.clientKeyId,
        credential_id: r.credentialId,
        family: r.family,
        model: r.model,
        status: r.status,
        latency_ms: Math.max(0, Math.round(r.latencyMs)),
        ttfb_ms: r.ttfbMs === null ? null : Math.max(0, Math.round(r.ttfbMs)),
        input_tokens: r.inputTokens,
        output_tokens: r.outputTokens,
        cached_tokens: r.cachedTokens,
        reasoning_tokens: r.reasoningTokens,
        attempts: r.attempts,
        source: r.source ?? '',
      })),
    );
    return this.prisma.$transaction(async (tx) => {
      const inserted = await tx.$queryRaw<StoredRequest[]>`
        INSERT INTO "usage_requests" ("request_key", "request_id", "at", "client_key_id", "credential_id", "family", "model", "status",
          "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "attempts", "source")
        SELECT r.request_key, r.request_id, r.at::timestamp(3), r.client_key_id, r.credential_id, r.family, r.model, r.status,
          r.latency_ms, r.ttfb_ms, r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens, r.attempts, r.source
        FROM jsonb_to_recordset(${json}::jsonb) AS r(request_key text, request_id text, at text, client_key_id text, credential_id text,
          family text, model text, status int, latency_ms int, ttfb_ms int, input_tokens bigint, output_tokens bigint,
          cached_tokens bigint, reasoning_tokens bigint, attempts int, source text)
        ON CONFLICT ("request_key") DO NOTHING
        RETURNING "at", "client_key_id" AS "clientKeyId", "credential_id" AS "credentialId", "family", "model", "status",
          "latency_ms" AS "latencyMs", "ttfb_ms" AS "ttfbMs", "input_tokens" AS "inputTokens", "output_tokens" AS "outputTokens",
          "cached_tokens" AS "cachedTokens", "reasoning_tokens" AS "reasoningTokens"`;
      const rows = rollupHourly(
        inserted.map((r) => ({
          ...r,
          inputTokens: Number(r.inputTokens),
          outputTokens: Number(r.outputTokens),
          cachedTokens: Number(r.cachedTokens),
          reasoningTokens: Number(r.reasoningTokens),
        })),
      );
      await this.addHourly(tx, rows);
      return inserted.length;
    });
  }

  private async addHourly(tx: Prisma.TransactionClient, rows: readonly UsageHourlyRow[]): Promise<void> {
    if (rows.length === 0) return;
    const json = JSON.stringify(
      rows.map((r) => ({
        hour: r.hour.toISOString(),
        client_key_id: r.clientKeyId,
        credential_id: r.credentialId,
        family: r.family,
        model: r.model,
        status: r.status,
        requests: r.requests,
        input_tokens: r.inputTokens,
        output_tokens: r.outputTokens,
        cached_tokens: r.cachedTokens,
        reasoning_tokens: r.reasoningTokens,
        latency_hist: r.latencyHist,
        ttfb_hist: r.ttfbHist,
      })),
    );
    await tx.$executeRaw`
      INSERT INTO "usage_hourly" AS h ("hour", "client_key_id", "credential_id", "family", "model", "status", "requests",
        "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "latency_hist", "ttfb_hist")
      SELECT r.hour::timestamp(3), r.client_key_id, r.credential_id, r.family, r.model, r.status, r.requests,
        r.input_tokens, r.output_tokens, r.cached_tokens, r.reasoning_tokens, r.latency_hist, r.ttfb_hist
      FROM jsonb_to_recordset(${json}::jsonb) AS r(hour text, client_key_id text, credential_id text, family text, model text,
        status int, requests int, input_tokens bigint, output_tokens bigint, cached_tokens bigint, reasoning_tokens bigint,
        latency_hist int[], ttfb_hist int[])
      ON CONFLICT ("hour", "client_key_id", "credential_id", "family", "model", "status") DO UPDATE SET
        "requests" = h."requests" + EXCLUDED."requests",
        "input_tokens" = h."input_tokens" + EXCLUDED."input_tokens",
        "output_tokens" = h."output_tokens" + EXCLUDED."output_tokens",
        "cached_tokens" = h."cached_tokens" + EXCLUDED."cached_tokens",
        "reasoning_tokens" = h."reasoning_tokens" + EXCLUDED."reasoning_tokens",
        "latency_hist" = cpa_histogram_add(h."latency_hist", EXCLUDED."latency_hist"),
        "ttfb_hist" = cpa_histogram_add(h."ttfb_hist", EXCLUDED."ttfb_hist")`;
  }

  /**
   * Imported records (CLIProxyAPI's usage export): those matching a stored request on
   * CLIProxyAPI's dedup fields are skipped, the others stored under a key derived from them.
   */
  async import(
    records: readonly (Omit<UsageRequestRecord, 'key'> & { source: string })[],
  ): Promise<{ added: number; skipped: number }> {
    if (records.length === 0) return { added: 0, skipped: 0 };
    const moments = [...new Set(records.map((r) => r.at))].map((ms) => new Date(ms));
    const existing = new Set<string>();
    for (let i = 0; i < moments.length; i += 1_000) {
      const stored = await this.prisma.usageRequest.findMany({ where: { at: { in: moments.slice(i, i + 1_000) } } });
      for (const row of stored) existing.add(usageFingerprint(toRow(row)));
    }
    const fresh = new Map<string, UsageRequestRecord & { source: string }>();
    for (const record of records) {
      const fingerprint = usageFingerprint(record);
      if (existing.has(fingerprint) || fresh.has(fingerprint)) continue;
      fresh.set(fingerprint, {
        ...record,
        key: `import:${createHash('sha256').update(fingerprint).digest('hex').slice(0, 32)}`,
      });
    }
    const added = await this.write([...fresh.values()]);
    return { added, skipped: records.length - added };
  }

  /** Newest first; `beforeId` continues after that row (keyset pagination over (at, id)). */
  async list(filter: UsageRequestFilter, limit: number, beforeId?: string): Promise<UsageRequestRow[]> {
    const where = requestWhere(filter);
    if (beforeId !== undefined) {
      const cursor = await this.prisma.usageRequest.findUnique({
        where: { id: BigInt(beforeId) },
        select: { id: true, at: true },
      });
      if (!cursor) return [];
      const after: Prisma.UsageRequestWhereInput = {
        OR: [{ at: { lt: cursor.at } }, { at: cursor.at, id: { lt: cursor.id } }],
      };
      where.AND = [after];
    }
    const rows = await this.prisma.usageRequest.findMany({
      where,
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toRow);
  }

  /** Every matching row, newest first, read in pages. */
  async *each(filter: UsageRequestFilter, pageSize = 1_000): AsyncGenerator<UsageRequestRow> {
    let before: string | undefined;
    for (;;) {
      const page = await this.list(filter, pageSize, before);
      yield* page;
      if (page.length < pageSize) return;
      before = page[page.length - 1]!.id;
    }
  }

  /** Roll-up sums per hour or UTC day (histograms summed), oldest first; hours are whole (`from` rounds down). */
  async buckets(filter: UsageRequestFilter, bucket: 'hour' | 'day'): Promise<UsageBucket[]> {
    const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (filter.from)
      conditions.push(Prisma.sql`"hour" >= date_trunc('hour', ${filter.from.toISOString()}::timestamp(3))`);
    if (filter.to) conditions.push(Prisma.sql`"hour" < ${filter.to.toISOString()}::timestamp(3)`);
    if (filter.clientKeyId !== undefined) conditions.push(Prisma.sql`"client_key_id" = ${filter.clientKeyId}`);
    if (filter.credentialId !== undefined) conditions.push(Prisma.sql`"credential_id" = ${filter.credentialId}`);
    if (filter.family !== undefined) conditions.push(Prisma.sql`"family" = ${filter.family}`);
    if (filter.model !== undefined) conditions.push(Prisma.sql`"model" = ${filter.model}`);
    if (filter.status === 'error') conditions.push(Prisma.sql`("status" >= 400 OR "status" <= 0)`);
    else if (filter.status === 'success') conditions.push(Prisma.sql`("status" >= 1 AND "status" < 400)`);
    else if (filter.status !== undefined) conditions.push(Prisma.sql`"status" = ${filter.status}`);
    const unit = bucket === 'day' ? 'day' : 'hour';
    const rows = await this.prisma.$queryRaw<
      {
        start: Date;
        requests: bigint;
        errors: bigint;
        input: bigint;
        output: bigint;
        cached: bigint;
        reasoning: bigint;
        latency: number[] | null;
        ttfb: number[] | null;
      }[]
    >`
      SELECT date_trunc(${unit}, "hour") AS "start", SUM("requests")::bigint AS "requests",
        COALESCE(SUM("requests") FILTER (WHERE "status" >= 400 OR "status" <= 0), 0)::bigint AS "errors",
        SUM("input_tokens")::bigint AS "input", SUM("output_tokens")::bigint AS "output",
        SUM("cached_tokens")::bigint AS "cached", SUM("reasoning_tokens")::bigint AS "reasoning",
        cpa_histogram_sum("latency_hist") AS "latency", cpa_histogram_sum("ttfb_hist") AS "ttfb"
      FROM "usage_hourly" WHERE ${Prisma.join(conditions, ' AND ')}
      GROUP BY 1 ORDER BY 1`;
    return rows.map((r) => ({
      start: r.start,
      requests: Number(r.requests),
      errors: Number(r.errors),
      inputTokens: Number(r.input),
      outputTokens: Number(r.output),
      cachedTokens: Number(r.cached),
      reasoningTokens: Number(r.reasoning),
      latencyHist: addHistogram([], r.latency ?? []),
      ttfbHist: addHistogram([], r.ttfb ?? []),
    }));
  }

  /**
   * Deletes per-request rows older than `cutoff` (roll-ups stay). One sweeper at a time
   * across admin replicas (a transaction-scoped advisory lock per chunk; a replica that does
   * not get it stops). Resolves with the rows deleted.
   */
  async deleteOlderThan(cutoff: Date): Promise<number> {
    let deleted = 0;
    for (;;) {
      const chunk = await this.prisma.$transaction(async (tx) => {
        const [lock] = await tx.$queryRaw<
          { locked: boolean }[]
        >`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK}::bigint) AS "locked"`;
        if (!lock?.locked) return -1;
        return tx.$executeRaw`
          DELETE FROM "usage_requests" WHERE "id" IN (
            SELECT "id" FROM "usage_requests" WHERE "at" < ${cutoff.toISOString()}::timestamp(3) LIMIT ${DELETE_CHUNK})`;
      });
      if (chunk < 0) return deleted;
      deleted += chunk;
      if (chunk < DELETE_CHUNK) return deleted;
    }
  }

  /**
   * Requests and tokens (input + output) of each key since `dayStart` and since
   * `monthStart` (UTC hour boundaries), and when its newest stored request arrived. Keys
   * without usage get zeros. One statement: the roll-up's hours of the month, and one
   * index probe per key for the newest request.
   */
  async clientKeyUsage(
    clientKeyIds: readonly string[],
    period: { dayStart: Date; monthStart: Date },
  ): Promise<Map<string, ClientKeyUsage>> {
    const usage = new Map<string, ClientKeyUsage>();
    if (clientKeyIds.length === 0) return usage;
    const day = period.dayStart.toISOString();
    const rows = await this.prisma.$queryRaw<
      { id: string; requestsToday: bigint; tokensToday: bigint; tokensMonth: bigint; lastUsedAt: Date | null }[]
    >`
      SELECT k."id",
        COALESCE(SUM(h."requests") FILTER (WHERE h."hour" >= ${day}::timestamp(3)), 0)::bigint AS "requestsToday",
        COALESCE(SUM(h."input_tokens" + h."output_tokens") FILTER (WHERE h."hour" >= ${day}::timestamp(3)), 0)::bigint AS "tokensToday",
        COALESCE(SUM(h."input_tokens" + h."output_tokens"), 0)::bigint AS "tokensMonth",
        (SELECT max(r."at") FROM "usage_requests" r WHERE r."client_key_id" = k."id") AS "lastUsedAt"
      FROM unnest(${[...clientKeyIds]}::text[]) AS k("id")
      LEFT JOIN "usage_hourly" h ON h."client_key_id" = k."id" AND h."hour" >= ${period.monthStart.toISOString()}::timestamp(3)
      GROUP BY k."id"`;
    for (const row of rows) {
      usage.set(row.id, {
        requestsToday: Number(row.requestsToday),
        tokensToday: Number(row.tokensToday),
        tokensMonth: Number(row.tokensMonth),
        lastUsedAt: row.lastUsedAt ? row.lastUsedAt.getTime() : null,
      });
    }
    return usage;
  }

  /** Requests and errors in the roll-up, all time. */
  async totals(): Promise<{ requests: number; errors: number }> {
    const [row] = await this.prisma.$queryRaw<{ requests: bigint | null; errors: bigint | null }[]>`
      SELECT SUM("requests")::bigint AS "requests",
        SUM("requests") FILTER (WHERE "status" >= 400 OR "status" <= 0)::bigint AS "errors" FROM "usage_hourly"`;
    return { requests: Number(row?.requests ?? 0), errors: Number(row?.errors ?? 0) };
  }

  /** Client key ids by key hash (an imported record may name a raw key). */
  async clientKeyHashes(): Promise<Map<string, string>> {
    const keys = await this.prisma.clientApiKey.findMany({ select: { id: true, keyHash: true } });
    return new Map(keys.map((k) => [k.keyHash, k.id]));
  }

  /** Provider family of every credential by id. */
  async credentialFamilies(): Promise<Map<string, string>> {
    const rows = await this.prisma.credential.findMany({ select: { id: true, provider: true } });
    return new Map(rows.map((c) => [c.id, c.provider]));
  }

  /** Names for ids in views: client keys (label, else preview) and credentials (label, account). */
  async names(): Promise<{
    clientKeys: Map<string, string>;
    credentials: Map<string, { label: string; account: string }>;
  }> {
    const [keys, credentials] = await Promise.all([
      this.prisma.clientApiKey.findMany({ select: { id: true, label: true, keyPreview: true } }),
      this.prisma.credential.findMany({ select: { id: true, label: true, account: true } }),
    ]);
    return {
      clientKeys: new Map(keys.map((k) => [k.id, k.label || k.keyPreview])),
      credentials: new Map(credentials.map((c) => [c.id, { label: c.label, account: c.account }])),
    };
  }
}
