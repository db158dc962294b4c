/**
 * What a client key may do, and the pure decisions about it: which models it may use,
 * whether it expired, and, given the counters read from Redis, which limit or budget
 * refuses a request and for how long (the Retry-After maths). No I/O here; the counters
 * are read and the request admitted atomically by `ClientKeyLimits` (one Lua script).
 */
export interface ClientKeyPolicy {
  /** Exact model names and `*` wildcards; empty = every model. */
  models: string[];
  /** Requests admitted per sliding minute (0 = unlimited). */
  rpmLimit: number;
  /** Tokens of completed requests per sliding minute (0 = unlimited). */
  tpmLimit: number;
  /** Tokens per UTC day (0 = unlimited). */
  dailyTokenBudget: number;
  /** Tokens per calendar month in UTC (0 = unlimited). */
  monthlyTokenBudget: number;
  /** Epoch ms after which the key is refused; null = never. */
  expiresAt: number | null;
}

export const UNLIMITED_POLICY: ClientKeyPolicy = Object.freeze({
  models: [],
  rpmLimit: 0,
  tpmLimit: 0,
  dailyTokenBudget: 0,
  monthlyTokenBudget: 0,
  expiresAt: null,
}) as ClientKeyPolicy;

/** A key's policy from a snapshot entry (fields missing in older documents mean unlimited). */
export function policyOf(entry: Partial<ClientKeyPolicy>): ClientKeyPolicy {
  return {
    models: entry.models ?? [],
    rpmLimit: entry.rpmLimit ?? 0,
    tpmLimit: entry.tpmLimit ?? 0,
    dailyTokenBudget: entry.dailyTokenBudget ?? 0,
    monthlyTokenBudget: entry.monthlyTokenBudget ?? 0,
    expiresAt: entry.expiresAt ?? null,
  };
}

/** Whether admitting a request needs Redis at all: keys without limits or budgets never touch it. */
export function hasCountedLimits(policy: ClientKeyPolicy): boolean {
  return policy.rpmLimit > 0 || policy.tpmLimit > 0 || policy.dailyTokenBudget > 0 || policy.monthlyTokenBudget > 0;
}

/**
 * Whether a key's completed requests must be charged to its Redis token counters: only a
 * tpm limit or a budget ever reads them (an rpm limit counts admissions, not tokens).
 * The management API's usage figures come from Postgres for every key.
 */
export function hasTokenLimits(
  policy: Pick<ClientKeyPolicy, 'tpmLimit' | 'dailyTokenBudget' | 'monthlyTokenBudget'>,
): boolean {
  return policy.tpmLimit > 0 || policy.dailyTokenBudget > 0 || policy.monthlyTokenBudget > 0;
}

export function isExpired(policy: ClientKeyPolicy, now: number): boolean {
  return policy.expiresAt !== null && now >= policy.expiresAt;
}

const MAX_PATTERNS = 10_000;
const compiled = new Map<string, RegExp>();

function matcher(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${body}$`, 's');
    if (compiled.size >= MAX_PATTERNS) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

/**
 * Whether `model` is one of `patterns`: an exact (case-sensitive) name, or a pattern where
 * `*` stands for any run of characters (`claude-*`, `*-mini`, `*`). No patterns = every model.
 */
export function modelAllowed(patterns: readonly string[], model: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((pattern) => (pattern.includes('*') ? matcher(pattern).test(model) : pattern === model));
}

/** The sliding window of the per-minute limits. */
export const LIMIT_WINDOW_MS = 60_000;

/** The budget periods `now` falls in (UTC), and when each ends. */
export interface BudgetPeriods {
  /** `YYYY-MM-DD` */
  day: string;
  /** `YYYY-MM` */
  month: string;
  dayEndsAt: number;
  monthEndsAt: number;
}

export function budgetPeriods(now: number): BudgetPeriods {
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const iso = date.toISOString();
  return {
    day: iso.slice(0, 10),
    month: iso.slice(0, 7),
    dayEndsAt: Date.UTC(year, month, date.getUTCDate() + 1),
    monthEndsAt: Date.UTC(year, month + 1, 1),
  };
}

/** The counters of one key as the admission script read them (before admitting). */
export interface LimitCounters {
  /** Requests admitted in the last LIMIT_WINDOW_MS. */
  requestsInWindow: number;
  /**
   * Admission time of the request whose leaving the window brings the count back under
   * the rpm limit (the oldest one when the count is exactly the limit); -1 when under it.
   */
  rpmPivotAt: number;
  /** Tokens recorded in the window, per second bucket: [epoch second, tokens]. */
  tokenBuckets: ReadonlyArray<readonly [number, number]>;
  dayTokens: number;
  monthTokens: number;
}

export type LimitKind = 'rpm' | 'tpm' | 'daily_budget' | 'monthly_budget';

export interface LimitRefusal {
  kind: LimitKind;
  limit: number;
  used: number;
  /** How long until this request would be admitted (the longest wait of every limit it hits). */
  retryAfterMs: number;
}

export function tokensInWindow(counters: Pick<LimitCounters, 'tokenBuckets'>): number {
  return counters.tokenBuckets.reduce((sum, [, tokens]) => sum + tokens, 0);
}

/**
 * Which limit refuses a request now, or null to admit it. A limit is reached when the
 * count is at or over it (the request would be one too many; a budget at its total is
 * spent). When several refuse, the one that clears last is reported, with its wait:
 * - rpm: until the pivot request leaves the sliding minute;
 * - tpm: until enough of the oldest second buckets leave the minute to bring the tokens
 *   under the limit (a bucket leaves LIMIT_WINDOW_MS after the start of its second);
 * - daily / monthly budget: until the next UTC day / month starts.
 * The admission script applies the same comparisons atomically; this explains its answer.
 */
export function limitRefusal(policy: ClientKeyPolicy, counters: LimitCounters, now: number): LimitRefusal | null {
  const refusals: LimitRefusal[] = [];
  if (policy.rpmLimit > 0 && counters.requestsInWindow >= policy.rpmLimit) {
    const pivot = counters.rpmPivotAt >= 0 ? counters.rpmPivotAt : now;
    refusals.push({
      kind: 'rpm',
      limit: policy.rpmLimit,
      used: counters.requestsInWindow,
      retryAfterMs: Math.max(0, pivot + LIMIT_WINDOW_MS - now),
    });
  }
  const tokens = tokensInWindow(counters);
  if (policy.tpmLimit > 0 && tokens >= policy.tpmLimit) {
    let remaining = tokens;
    let clearsAt = now;
    for (const [second, bucket] of [...counters.tokenBuckets].sort((a, b) => a[0] - b[0])) {
      remaining -= bucket;
      clearsAt = second * 1000 + LIMIT_WINDOW_MS;
      if (remaining < policy.tpmLimit) break;
    }
    refusals.push({ kind: 'tpm', limit: policy.tpmLimit, used: tokens, retryAfterMs: Math.max(0, clearsAt - now) });
  }
  const periods = budgetPeriods(now);
  if (policy.dailyTokenBudget > 0 && counters.dayTokens >= policy.dailyTokenBudget) {
    refusals.push({
      kind: 'daily_budget',
      limit: policy.dailyTokenBudget,
      used: counters.dayTokens,
      retryAfterMs: periods.dayEndsAt - now,
    });
  }
  if (policy.monthlyTokenBudget > 0 && counters.monthTokens >= policy.monthlyTokenBudget) {
    refusals.push({
      kind: 'monthly_budget',
      limit: policy.monthlyTokenBudget,
      used: counters.monthTokens,
      retryAfterMs: periods.monthEndsAt - now,
    });
  }
  if (refusals.length === 0) return null;
  return refusals.reduce((longest, refusal) => (refusal.retryAfterMs > longest.retryAfterMs ? refusal : longest));
}

/** Retry-After in whole seconds, at least 1 (a refused client should not retry at once). */
export function retryAfterSeconds(refusal: Pick<LimitRefusal, 'retryAfterMs'>): number {
  return Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
}
