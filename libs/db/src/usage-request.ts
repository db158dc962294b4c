/**
 * One record per client request, and the maths of its hourly roll-up. Pure and free of the
 * Prisma client, so the scheduler (which builds records) and the admin (which writes and
 * reports them) share one definition.
 */

/** What the scheduler buffers in Redis for every client request it answered or saw answered. */
export interface UsageRequestRecord {
  /** Unique per record, made when it is created: writing it twice (an at-least-once drain) keeps one row. */
  key: string;
  /** The request id of the logs and the x-request-id header (a client may reuse one). */
  requestId: string;
  /** Epoch ms the gateway received the request. */
  at: number;
  /** Empty when the request had no client key. */
  clientKeyId: string;
  /** The credential that answered, or the last one tried; empty when none was picked. */
  credentialId: string;
  /** Provider family of that credential; empty when none was picked. */
  family: string;
  /** The model as the client named it. */
  model: string;
  /** HTTP status the client got. */
  status: number;
  latencyMs: number;
  /** Null unless the client streamed and its first byte was sent. */
  ttfbMs: number | null;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Upstream attempts made (0 when no credential was picked). */
  attempts: number;
}

/** A request counts as an error when its client got a 4xx or 5xx. */
export function isErrorStatus(status: number): boolean {
  return status >= 400 || status <= 0;
}

/**
 * Upper bounds (ms, inclusive) of the latency histogram's buckets: 1 ms steps up to 10 ms,
 * then 20 % wider each, up to about 30 minutes; one overflow bucket follows. Stored roll-ups
 * are counts per bucket, so these bounds are fixed for good (a change needs a migration).
 */
export const LATENCY_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let ms = 1; ms <= 10; ms++) bounds.push(ms);
  while (bounds[bounds.length - 1]! < 1_800_000) bounds.push(Math.ceil(bounds[bounds.length - 1]! * 1.2));
  return bounds;
})();

/** Buckets of a histogram: one per bound plus the overflow bucket. */
export const HISTOGRAM_SIZE = LATENCY_BOUNDS_MS.length + 1;

export function emptyHistogram(): number[] {
  return new Array<number>(HISTOGRAM_SIZE).fill(0);
}

/** The bucket a duration falls in (binary search over the bounds). */
export function histogramIndex(ms: number): number {
  const value = Math.max(0, ms);
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Element-wise sum into `target` (histograms of different lengths are padded with zeros). */
export function addHistogram(target: number[], other: readonly number[]): number[] {
  for (let i = 0; i < other.length; i++) target[i] = (target[i] ?? 0) + (other[i] ?? 0);
  return target;
}

/**
 * The p-th quantile (0..1) of a histogram, interpolated linearly inside its bucket (so off by
 * at most the bucket's width, 20 %); null for an empty histogram. The overflow bucket
 * answers its lower bound.
 */
export function histogramQuantile(histogram: readonly number[], p: number): number | null {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.min(Math.max(p, 0), 1) * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i] ?? 0;
    if (count === 0) continue;
    if (seen + count >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i] ?? lower;
      const within = rank <= seen ? 0 : (rank - seen) / count;
      return Math.round(lower + (upper - lower) * within);
    }
    seen += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

/** The UTC hour a moment falls in. */
export function hourStart(at: number | Date): Date {
  const ms = typeof at === 'number' ? at : at.getTime();
  return new Date(ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000));
}

/** One row of the hourly roll-up: counts of the requests of one hour and dimension set. */
export interface UsageHourlyRow {
  hour: Date;
  clientKeyId: string;
  credentialId: string;
  family: string;
  model: string;
  status: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  latencyHist: number[];
  ttfbHist: number[];
}

type RollupSource = Pick<
  UsageRequestRecord,
  | 'clientKeyId'
  | 'credentialId'
  | 'family'
  | 'model'
  | 'status'
  | 'latencyMs'
  | 'ttfbMs'
  | 'inputTokens'
  | 'outputTokens'
  | 'cachedTokens'
  | 'reasoningTokens'
> & { at: number | Date };

/** Sums requests into hourly rows, sorted by key (a stable order keeps concurrent upserts from deadlocking). */
export function rollupHourly(records: readonly RollupSource[]): UsageHourlyRow[] {
  const rows = new Map<string, UsageHourlyRow>();
  for (const record of records) {
    const hour = hourStart(record.at);
    const key = JSON.stringify([
      hour.getTime(),
      record.clientKeyId,
      record.credentialId,
      record.family,
      record.model,
      record.status,
    ]);
    let row = rows.get(key);
    if (!row) {
      row = {
        hour,
        clientKeyId: record.clientKeyId,
        credentialId: record.credentialId,
        family: record.family,
        model: record.model,
        status: record.status,
        requests: 0,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        latencyHist: emptyHistogram(),
        ttfbHist: emptyHistogram(),
      };
      rows.set(key, row);
    }
    row.requests += 1;
    row.inputTokens += record.inputTokens;
    row.outputTokens += record.outputTokens;
    row.cachedTokens += record.cachedTokens;
    row.reasoningTokens += record.reasoningTokens;
    row.latencyHist[histogramIndex(record.latencyMs)]! += 1;
    if (record.ttfbMs !== null) row.ttfbHist[histogramIndex(record.ttfbMs)]! += 1;
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}
