import { describe, expect, it } from 'vitest';
import type { UsageRow } from '@cpa/db';
import { summariseUsage, UsageReportService } from './usage-report';

const row = (over: Partial<UsageRow>): UsageRow => ({
  day: '2026-11-24', credentialId: 'c1', clientKeyId: 'k1', model: 'm1',
  requests: 1, failures: 0, inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0, ...over,
});

describe('summariseUsage', () => {
  it('totals requests, failures and tokens overall and per day, credential, model and client key', () => {
    const summary = summariseUsage([
      row({ requests: 3, failures: 1 }),
      row({ day: '2026-11-25', model: 'm2', clientKeyId: '', cachedTokens: 4, reasoningTokens: 2 }),
    ]);
    expect(summary).toMatchObject({ total_requests: 4, success_count: 3, failure_count: 1, input_tokens: 20, output_tokens: 10, cached_tokens: 4, reasoning_tokens: 2, total_tokens: 30 });
    expect(Object.keys(summary.by_day)).toEqual(['2026-11-24', '2026-11-25']);
    expect(summary.by_model.m2.total_requests).toBe(1);
    expect(summary.by_client_key['(none)'].total_requests).toBe(1);
    expect(summary.by_credential.c1.failure_count).toBe(1);
  });
});

describe('UsageReportService', () => {
  const service = (rows: UsageRow[], seen: unknown[] = []) =>
    new UsageReportService({ query: async (q: unknown) => (seen.push(q), rows) } as never);

  it('defaults to the last 30 days and filters by credential and model', async () => {
    const seen: unknown[] = [];
    const report = await service([row({})], seen).report({ credential: 'c1', model: 'm1' }, new Date('2026-11-25T12:00:00Z'));
    expect(seen[0]).toEqual({ from: '2026-10-27', to: '2026-11-25', credentialId: 'c1', model: 'm1' });
    expect(report.usage.total_requests).toBe(1);
  });

  it('rejects malformed or inverted ranges with 400', async () => {
    await expect(service([]).report({ from: 'yesterday' })).rejects.toMatchObject({ status: 400 });
    await expect(service([]).report({ from: '2026-11-25', to: '2026-11-01' })).rejects.toMatchObject({ status: 400 });
  });
});
