import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { UsageRepository, utcDay, type UsageRow } from '@cpa/db';
import { badRequest } from './errors';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const QuerySchema = z.object({
  from: z.string().regex(DAY, 'from must be YYYY-MM-DD').optional(),
  to: z.string().regex(DAY, 'to must be YYYY-MM-DD').optional(),
  credential: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});

export interface UsageTotals {
  total_requests: number;
  success_count: number;
  failure_count: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
}

function emptyTotals(): UsageTotals {
  return { total_requests: 0, success_count: 0, failure_count: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, total_tokens: 0 };
}

function add(totals: UsageTotals, row: UsageRow): void {
  totals.total_requests += row.requests;
  totals.failure_count += row.failures;
  totals.success_count += row.requests - row.failures;
  totals.input_tokens += row.inputTokens;
  totals.output_tokens += row.outputTokens;
  totals.cached_tokens += row.cachedTokens;
  totals.reasoning_tokens += row.reasoningTokens;
  totals.total_tokens += row.inputTokens + row.outputTokens;
}

/** UsageTotals of the rows, overall and grouped by a column. */
export function summariseUsage(rows: readonly UsageRow[]) {
  const overall = emptyTotals();
  const groups = { by_day: new Map<string, UsageTotals>(), by_credential: new Map<string, UsageTotals>(), by_model: new Map<string, UsageTotals>(), by_client_key: new Map<string, UsageTotals>() };
  const bump = (map: Map<string, UsageTotals>, key: string, row: UsageRow) => {
    let totals = map.get(key);
    if (!totals) map.set(key, (totals = emptyTotals()));
    add(totals, row);
  };
  for (const row of rows) {
    add(overall, row);
    bump(groups.by_day, row.day, row);
    bump(groups.by_credential, row.credentialId, row);
    bump(groups.by_model, row.model, row);
    bump(groups.by_client_key, row.clientKeyId || '(none)', row);
  }
  const listed = (map: Map<string, UsageTotals>) => Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return {
    ...overall,
    by_day: listed(groups.by_day),
    by_credential: listed(groups.by_credential),
    by_model: listed(groups.by_model),
    by_client_key: listed(groups.by_client_key),
  };
}

/**
 * GET /v0/management/usage: request and token counts per day, credential, model and
 * client key (CLIProxyAPI's removed usage endpoint, from the scheduler's counters).
 * Default range: the last 30 days.
 */
@Injectable()
export class UsageReportService {
  constructor(private readonly usage: UsageRepository) {}

  async report(query: unknown, now = new Date()) {
    const parsed = QuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw badRequest(parsed.error.issues.map((i) => i.message).join('; '));
    const to = parsed.data.to ?? utcDay(now);
    const from = parsed.data.from ?? utcDay(new Date(now.getTime() - 29 * 86_400_000));
    if (from > to) throw badRequest('from must not be after to');
    const rows = await this.usage.query({ from, to, credentialId: parsed.data.credential, model: parsed.data.model });
    return { usage: { from, to, ...summariseUsage(rows) } };
  }
}
