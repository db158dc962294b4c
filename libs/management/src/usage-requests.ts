import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type {
  UsageBucketSize,
  UsageRequestPage,
  UsageRequestView,
  UsageSummary,
  UsageSummaryPoint,
  UsageTotals,
} from '@cpa/contracts/management-views';
import {
  histogramQuantile,
  UsageRequestRepository,
  type UsageBucket,
  type UsageRequestFilter,
  type UsageRequestRow,
} from '@cpa/db';
import { badRequest } from './management-error';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
export const USAGE_LIST_DEFAULT_LIMIT = 100;
export const USAGE_LIST_MAX_LIMIT = 1_000;
/** Summaries longer than this many buckets list only the non-empty ones. */
const MAX_FILLED_BUCKETS = 2_000;

const instant = z
  .string()
  .trim()
  .min(1)
  .refine(
    (value) => !Number.isNaN(parseInstant(value)),
    'must be an RFC 3339 time, a YYYY-MM-DD day or epoch milliseconds',
  )
  .transform((value) => new Date(parseInstant(value)));

function parseInstant(value: string): number {
  let ms: number;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) ms = Date.parse(`${value}T00:00:00Z`);
  else if (/^\d{10,16}$/.test(value)) ms = Number(value);
  // A time without a zone would be read in the server's zone: only explicit zones are accepted.
  else if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) return Number.NaN;
  else ms = Date.parse(value);
  // Within what a Date (and Postgres) can hold.
  return Number.isNaN(new Date(ms).getTime()) ? Number.NaN : ms;
}

const nonEmpty = z.string().trim().min(1);

const FilterSchema = z.object({
  from: instant.optional(),
  to: instant.optional(),
  client_key_id: nonEmpty.optional(),
  credential_id: nonEmpty.optional(),
  family: nonEmpty.optional(),
  model: nonEmpty.optional(),
  status: z
    .string()
    .trim()
    .regex(/^(\d{3}|error|success)$/, 'status must be an HTTP status, "error" or "success"')
    .transform((value) => (value === 'error' || value === 'success' ? value : Number(value)))
    .optional(),
});

const ListQuerySchema = FilterSchema.extend({
  limit: z
    .string()
    .regex(/^\d+$/, 'limit must be a positive integer')
    .transform(Number)
    .refine((n) => n >= 1 && n <= USAGE_LIST_MAX_LIMIT, `limit must be between 1 and ${USAGE_LIST_MAX_LIMIT}`)
    .optional(),
  before_id: z
    .string()
    .regex(/^\d{1,19}$/, 'before_id must be a request id')
    .refine((id) => /^\d{1,19}$/.test(id) && BigInt(id) <= 9_223_372_036_854_775_807n, 'before_id must be a request id')
    .optional(),
  format: z.enum(['json', 'csv']).optional(),
});

const SummaryQuerySchema = FilterSchema.extend({ bucket: z.enum(['hour', 'day']).optional() });

export type UsageListQuery = { filter: UsageRequestFilter; limit: number; beforeId?: string; format: 'json' | 'csv' };
export type UsageSummaryQuery = { filter: UsageRequestFilter; bucket: UsageBucketSize };

function issues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

function toFilter(q: z.infer<typeof FilterSchema>): UsageRequestFilter {
  if (q.from && q.to && q.from.getTime() >= q.to.getTime()) throw badRequest('from must be before to');
  const filter: UsageRequestFilter = {};
  if (q.from) filter.from = q.from;
  if (q.to) filter.to = q.to;
  if (q.client_key_id !== undefined) filter.clientKeyId = q.client_key_id;
  if (q.credential_id !== undefined) filter.credentialId = q.credential_id;
  if (q.family !== undefined) filter.family = q.family;
  if (q.model !== undefined) filter.model = q.model;
  if (q.status !== undefined) filter.status = q.status;
  return filter;
}

/** GET /usage/requests query: filters, `limit` (default 100, max 1000), `before_id`, `format`. */
export function parseUsageListQuery(query: unknown): UsageListQuery {
  const parsed = ListQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw badRequest(issues(parsed.error));
  const { limit, before_id, format, ...rest } = parsed.data;
  return {
    filter: toFilter(rest),
    limit: limit ?? USAGE_LIST_DEFAULT_LIMIT,
    ...(before_id ? { beforeId: before_id } : {}),
    format: format ?? 'json',
  };
}

/** GET /usage/summary query: filters and `bucket`; the range defaults to the last 24 hours (hour) or 30 days (day). */
export function parseUsageSummaryQuery(query: unknown, now = new Date()): UsageSummaryQuery {
  const parsed = SummaryQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw badRequest(issues(parsed.error));
  const { bucket = 'hour', ...rest } = parsed.data;
  const filter = toFilter(rest);
  const unit = bucket === 'day' ? DAY_MS : HOUR_MS;
  const to = filter.to ?? new Date(floorTo(now.getTime(), unit) + unit);
  const from = filter.from ?? new Date(to.getTime() - (bucket === 'day' ? 30 : 24) * unit);
  if (from.getTime() >= to.getTime()) throw badRequest('from must be before to');
  return { filter: { ...filter, from, to }, bucket };
}

function floorTo(ms: number, unit: number): number {
  return ms - (((ms % unit) + unit) % unit);
}

export interface UsageNames {
  clientKeys: Map<string, string>;
  credentials: Map<string, { label: string; account: string }>;
}

/** One request as GET /usage/requests (and its CSV) shows it. */
export function usageRequestView(row: UsageRequestRow, names: UsageNames): UsageRequestView {
  const credential = names.credentials.get(row.credentialId);
  return {
    id: row.id,
    at: row.at.toISOString(),
    client_key_id: row.clientKeyId || null,
    client_key_name: row.clientKeyId ? (names.clientKeys.get(row.clientKeyId) ?? null) : null,
    credential_id: row.credentialId || null,
    credential_label: row.credentialId
      ? credential
        ? credential.label || credential.account || row.credentialId
        : null
      : null,
    family: row.family || null,
    model: row.model,
    status: row.status,
    latency_ms: row.latencyMs,
    ttfb_ms: row.ttfbMs,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    cached_tokens: row.cachedTokens,
    reasoning_tokens: row.reasoningTokens,
    attempts: row.attempts,
    request_id: row.requestId || null,
  };
}

export const USAGE_CSV_COLUMNS = [
  'id',
  'at',
  'client_key_id',
  'client_key_name',
  'credential_id',
  'credential_label',
  'family',
  'model',
  'status',
  'latency_ms',
  'ttfb_ms',
  'input_tokens',
  'output_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'attempts',
  'request_id',
] as const satisfies readonly (keyof UsageRequestView)[];

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. Text that a
 * spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe,
 * since model names and labels come from clients and operators.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

export function usageCsvRow(view: UsageRequestView): string {
  return csvRow(USAGE_CSV_COLUMNS.map((column) => view[column]));
}

function point(start: number, bucket: UsageBucket | undefined): UsageSummaryPoint {
  return {
    start: new Date(start).toISOString(),
    requests: bucket?.requests ?? 0,
    errors: bucket?.errors ?? 0,
    input_tokens: bucket?.inputTokens ?? 0,
    output_tokens: bucket?.outputTokens ?? 0,
    cached_tokens: bucket?.cachedTokens ?? 0,
    reasoning_tokens: bucket?.reasoningTokens ?? 0,
    latency_p50_ms: bucket ? histogramQuantile(bucket.latencyHist, 0.5) : null,
    latency_p95_ms: bucket ? histogramQuantile(bucket.latencyHist, 0.95) : null,
    ttfb_p50_ms: bucket ? histogramQuantile(bucket.ttfbHist, 0.5) : null,
    ttfb_p95_ms: bucket ? histogramQuantile(bucket.ttfbHist, 0.95) : null,
  };
}

/**
 * The summary's series, one point per bucket from `from` (rounded down) to `to`, empty
 * buckets included (only the non-empty ones past MAX_FILLED_BUCKETS), and the totals.
 * Percentiles come from the roll-up's histograms (within a bucket width, 20 %).
 */
export function summarise(
  buckets: readonly UsageBucket[],
  bucket: UsageBucketSize,
  from: Date,
  to: Date,
): UsageSummary {
  const unit = bucket === 'day' ? DAY_MS : HOUR_MS;
  const byStart = new Map(buckets.map((b) => [b.start.getTime(), b]));
  const first = floorTo(from.getTime(), unit);
  const count = Math.ceil((to.getTime() - first) / unit);
  const series: UsageSummaryPoint[] = [];
  if (count <= MAX_FILLED_BUCKETS)
    for (let start = first; start < to.getTime(); start += unit) series.push(point(start, byStart.get(start)));
  else for (const b of buckets) series.push(point(b.start.getTime(), b));
  const totals: UsageTotals = {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cached_tokens: 0,
    reasoning_tokens: 0,
  };
  for (const b of buckets) {
    totals.requests += b.requests;
    totals.errors += b.errors;
    totals.input_tokens += b.inputTokens;
    totals.output_tokens += b.outputTokens;
    totals.cached_tokens += b.cachedTokens;
    totals.reasoning_tokens += b.reasoningTokens;
  }
  return { bucket, from: new Date(first).toISOString(), to: to.toISOString(), series, totals };
}

/** GET /v0/management/usage/requests and /usage/summary (the console's usage and overview pages). */
@Injectable()
export class UsageRequestsService {
  constructor(private readonly requests: UsageRequestRepository) {}

  async list(query: UsageListQuery): Promise<UsageRequestPage> {
    const [rows, names] = await Promise.all([
      this.requests.list(query.filter, query.limit, query.beforeId),
      this.requests.names(),
    ]);
    return {
      requests: rows.map((row) => usageRequestView(row, names)),
      next_before_id: rows.length === query.limit ? rows[rows.length - 1]!.id : null,
    };
  }

  /**
   * Every matching request as CSV lines (header first), read from Postgres page by page
   * while they are sent. The first read happens before, so an unreachable database is a 503.
   */
  async csv(filter: UsageRequestFilter): Promise<AsyncIterable<string>> {
    const names = await this.requests.names();
    const rows = this.requests.each(filter);
    const first = await rows.next();
    return (async function* () {
      yield csvRow(USAGE_CSV_COLUMNS);
      if (first.done) return;
      yield usageCsvRow(usageRequestView(first.value, names));
      for await (const row of rows) yield usageCsvRow(usageRequestView(row, names));
    })();
  }

  async summary(query: UsageSummaryQuery): Promise<UsageSummary> {
    const buckets = await this.requests.buckets(query.filter, query.bucket);
    return summarise(buckets, query.bucket, query.filter.from!, query.filter.to!);
  }
}
