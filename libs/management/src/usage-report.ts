import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  hashClientKey,
  isErrorStatus,
  UsageRequestRepository,
  utcDay,
  type UsageRequestFilter,
  type UsageRequestRecord,
  type UsageRequestRow,
} from '@cpa/db';
import { badRequest } from './management-error';
import type { UsageNames } from './usage-requests';

/*
 * CLIProxyAPI's usage statistics (its internal/usage snapshot, served by GET /usage,
 * GET /usage/export and POST /usage/import until it moved usage to a queue), computed from
 * the per-request rows, so its Management Center and scripts keep working:
 * - `apis` is keyed by the client key (CLIProxyAPI: the raw key; here its name, else its
 *   preview, never the secret; "unknown" without one), then by the model the client named;
 * - `details[].auth_index` is the credential id (this router's auth_index), `source` the
 *   account or label of the credential (or the imported record's source);
 * - hours (`requests_by_hour`, "00".."23") and days are UTC;
 * - `total_tokens` is input + output tokens.
 */

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const QuerySchema = z.object({
  from: z.string().regex(DAY, 'from must be YYYY-MM-DD').optional(),
  to: z.string().regex(DAY, 'to must be YYYY-MM-DD').optional(),
  credential: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});

export interface TokenStats {
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  total_tokens: number;
}

export interface RequestDetail {
  timestamp: string;
  latency_ms: number;
  source: string;
  auth_index: string;
  tokens: TokenStats;
  failed: boolean;
}

export interface ModelSnapshot {
  total_requests: number;
  total_tokens: number;
  details: RequestDetail[];
}

export interface ApiSnapshot {
  total_requests: number;
  total_tokens: number;
  models: Record<string, ModelSnapshot>;
}

export interface StatisticsSnapshot {
  total_requests: number;
  success_count: number;
  failure_count: number;
  total_tokens: number;
  apis: Record<string, ApiSnapshot>;
  requests_by_day: Record<string, number>;
  requests_by_hour: Record<string, number>;
  tokens_by_day: Record<string, number>;
  tokens_by_hour: Record<string, number>;
}

/** Largest latency a row holds (an INTEGER column). */
const MAX_INT = 2_147_483_647;

/** The `apis` key of requests without a client key (CLIProxyAPI's fallback name). */
export const UNKNOWN_API = 'unknown';

export function emptySnapshot(): StatisticsSnapshot {
  return {
    total_requests: 0,
    success_count: 0,
    failure_count: 0,
    total_tokens: 0,
    apis: {},
    requests_by_day: {},
    requests_by_hour: {},
    tokens_by_day: {},
    tokens_by_hour: {},
  };
}

/** The `apis` name of a client key id: its name, else the stored id (an imported, unmatched name). */
export function apiName(clientKeyId: string, names: UsageNames): string {
  if (!clientKeyId) return UNKNOWN_API;
  return names.clientKeys.get(clientKeyId) || clientKeyId;
}

/** Adds one stored request to a snapshot (rows in any order; details are sorted by `sortDetails`). */
export function addToSnapshot(snapshot: StatisticsSnapshot, row: UsageRequestRow, names: UsageNames): void {
  const failed = isErrorStatus(row.status);
  const total = row.inputTokens + row.outputTokens;
  const credential = names.credentials.get(row.credentialId);
  snapshot.total_requests += 1;
  if (failed) snapshot.failure_count += 1;
  else snapshot.success_count += 1;
  snapshot.total_tokens += total;
  const api = (snapshot.apis[apiName(row.clientKeyId, names)] ??= { total_requests: 0, total_tokens: 0, models: {} });
  api.total_requests += 1;
  api.total_tokens += total;
  const model = (api.models[row.model || 'unknown'] ??= { total_requests: 0, total_tokens: 0, details: [] });
  model.total_requests += 1;
  model.total_tokens += total;
  model.details.push({
    timestamp: row.at.toISOString(),
    latency_ms: row.latencyMs,
    source: row.source || credential?.account || credential?.label || '',
    auth_index: row.credentialId,
    tokens: {
      input_tokens: row.inputTokens,
      output_tokens: row.outputTokens,
      reasoning_tokens: row.reasoningTokens,
      cached_tokens: row.cachedTokens,
      total_tokens: total,
    },
    failed,
  });
  const day = utcDay(row.at);
  const hour = row.at.toISOString().slice(11, 13);
  snapshot.requests_by_day[day] = (snapshot.requests_by_day[day] ?? 0) + 1;
  snapshot.requests_by_hour[hour] = (snapshot.requests_by_hour[hour] ?? 0) + 1;
  snapshot.tokens_by_day[day] = (snapshot.tokens_by_day[day] ?? 0) + total;
  snapshot.tokens_by_hour[hour] = (snapshot.tokens_by_hour[hour] ?? 0) + total;
}

/** Details oldest first, as CLIProxyAPI appends them. */
export function sortDetails(snapshot: StatisticsSnapshot): StatisticsSnapshot {
  for (const api of Object.values(snapshot.apis))
    for (const model of Object.values(api.models))
      model.details.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  return snapshot;
}

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const TokensSchema = z
  .object({
    input_tokens: count.optional(),
    output_tokens: count.optional(),
    reasoning_tokens: count.optional(),
    cached_tokens: count.optional(),
  })
  .partial()
  .optional();

const DetailSchema = z.object({
  timestamp: z
    .string()
    .refine(
      (t) => !Number.isNaN(Date.parse(t)) && Math.abs(Date.parse(t)) < 8.64e15,
      'timestamp must be an RFC 3339 time',
    )
    .optional(),
  latency_ms: z.number().finite().optional(),
  source: z.string().optional(),
  auth_index: z.string().optional(),
  tokens: TokensSchema,
  failed: z.boolean().optional(),
});

const ImportSchema = z.object({
  version: z.number().int().optional(),
  usage: z
    .object({
      apis: z
        .record(
          z.string(),
          z.object({ models: z.record(z.string(), z.object({ details: z.array(DetailSchema).nullish() })).nullish() }),
        )
        .nullish(),
    })
    .passthrough()
    .nullish(),
});

/** Where imported names point: client keys by id, name, preview or (a raw CLIProxyAPI key) hash; credentials by id. */
export interface ImportTargets {
  clientKeyByName: Map<string, string>;
  clientKeyByHash: Map<string, string>;
  credentialFamily: Map<string, string>;
}

/**
 * The records of an import body (CLIProxyAPI's export, version 0 or 1). Imported records
 * have no HTTP status, time to first byte or attempt count: a failed one is stored as 500,
 * a successful one as 200, with no ttfb and one attempt.
 */
export function importRecords(
  body: unknown,
  targets: ImportTargets,
  now = Date.now(),
): (Omit<UsageRequestRecord, 'key'> & { source: string })[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('invalid json');
  const parsed = ImportSchema.safeParse(body);
  if (!parsed.success)
    throw badRequest(
      `invalid usage: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const version = parsed.data.version ?? 0;
  if (version !== 0 && version !== 1) throw badRequest('unsupported version');
  const records: (Omit<UsageRequestRecord, 'key'> & { source: string })[] = [];
  for (const [rawApi, api] of Object.entries(parsed.data.usage?.apis ?? {})) {
    const name = rawApi.trim();
    if (!name) continue;
    const clientKeyId =
      name === UNKNOWN_API
        ? ''
        : (targets.clientKeyByName.get(name) ?? targets.clientKeyByHash.get(hashClientKey(name)) ?? name);
    for (const [rawModel, model] of Object.entries(api.models ?? {})) {
      const modelName = rawModel.trim() || 'unknown';
      for (const detail of model.details ?? []) {
        const credentialId = detail.auth_index?.trim() ?? '';
        const input = detail.tokens?.input_tokens ?? 0;
        const output = detail.tokens?.output_tokens ?? 0;
        records.push({
          requestId: '',
          at: detail.timestamp ? Date.parse(detail.timestamp) : now,
          clientKeyId,
          credentialId,
          family: targets.credentialFamily.get(credentialId) ?? '',
          model: modelName,
          status: detail.failed ? 500 : 200,
          latencyMs: Math.min(MAX_INT, Math.max(0, Math.round(detail.latency_ms ?? 0))),
          ttfbMs: null,
          inputTokens: input,
          outputTokens: output,
          cachedTokens: detail.tokens?.cached_tokens ?? 0,
          reasoningTokens: detail.tokens?.reasoning_tokens ?? 0,
          attempts: 1,
          source: detail.source ?? '',
        });
      }
    }
  }
  return records;
}

/**
 * GET /v0/management/usage, GET /usage/export and POST /usage/import in CLIProxyAPI's
 * shapes, over the per-request rows (so over the retention window at most).
 */
@Injectable()
export class UsageReportService {
  constructor(private readonly requests: UsageRequestRepository) {}

  private async snapshot(filter: UsageRequestFilter): Promise<StatisticsSnapshot> {
    const names = await this.requests.names();
    const snapshot = emptySnapshot();
    for await (const row of this.requests.each(filter)) addToSnapshot(snapshot, row, names);
    return sortDetails(snapshot);
  }

  /** `?from=&to=` (UTC days, inclusive; default the last 30 days), `credential`, `model`. */
  async report(query: unknown, now = new Date()) {
    const parsed = QuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw badRequest(parsed.error.issues.map((i) => i.message).join('; '));
    const to = parsed.data.to ?? utcDay(now);
    const from = parsed.data.from ?? utcDay(new Date(now.getTime() - 29 * 86_400_000));
    if (from > to) throw badRequest('from must not be after to');
    const filter: UsageRequestFilter = {
      from: new Date(`${from}T00:00:00Z`),
      to: new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000),
    };
    if (parsed.data.credential) filter.credentialId = parsed.data.credential;
    if (parsed.data.model) filter.model = parsed.data.model;
    const usage = await this.snapshot(filter);
    return { usage, failed_requests: usage.failure_count };
  }

  /** Every stored request. */
  async export(now = new Date()) {
    return { version: 1, exported_at: now.toISOString(), usage: await this.snapshot({}) };
  }

  /** Merges an export: requests already stored (same key, model, time, credential, outcome and tokens) are skipped. */
  async import(body: unknown) {
    const names = await this.requests.names();
    const clientKeyByName = new Map<string, string>();
    for (const [id, name] of names.clientKeys) {
      if (name && !clientKeyByName.has(name)) clientKeyByName.set(name, id);
      clientKeyByName.set(id, id);
    }
    const targets: ImportTargets = {
      clientKeyByName,
      clientKeyByHash: await this.requests.clientKeyHashes(),
      credentialFamily: await this.requests.credentialFamilies(),
    };
    const result = await this.requests.import(importRecords(body, targets));
    const totals = await this.requests.totals();
    return {
      added: result.added,
      skipped: result.skipped,
      total_requests: totals.requests,
      failed_requests: totals.errors,
    };
  }
}
