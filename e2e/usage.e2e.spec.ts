/**
 * Per-request usage end to end: requests sent with the official SDKs (plain, streamed and
 * failed) become one usage row each whose tokens are exactly what the mock upstream
 * reported to the SDK, visible through /usage/requests (pages and CSV), /usage/summary and
 * CLIProxyAPI's /usage; its export imports back without duplicates.
 */
import { APIError as AnthropicError } from '@anthropic-ai/sdk';
import { APIError as OpenAIError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UsageRequestPage, UsageRequestView } from '@cpa/contracts/management-views';
import { waitFor } from '@cpa/testing';
import { useStack } from './stack-fixture';

const { mock, openai, anthropic, management } = useStack({
  families: ['claude', 'openai-compat'],
  config: (upstream) => ({
    'claude-api-key': [{ 'api-key': 'claude-usage-key', 'base-url': upstream.url }],
    'openai-compatibility': [
      {
        name: 'mock-openai',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': 'compat-usage-key' }],
        models: [{ name: 'gpt-4o-mini', alias: 'gpt-4o-mini' }],
      },
    ],
  }),
});

interface Sent {
  model: string;
  status: number;
  streamed: boolean;
  input: number;
  output: number;
}

const sent: Sent[] = [];
const CLAUDE = 'claude-sonnet-4-5-20250929';

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await management(path, init);
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
}

async function allRequests(): Promise<UsageRequestView[]> {
  return (await json<UsageRequestPage>('/usage/requests?limit=1000')).requests;
}

const sum = (rows: readonly { input: number; output: number }[]) =>
  rows.reduce((acc, r) => ({ input: acc.input + r.input, output: acc.output + r.output }), { input: 0, output: 0 });

beforeAll(async () => {
  // 1. OpenAI, not streamed.
  const plain = await openai().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'count the words of this request please' }],
  });
  sent.push({
    model: 'gpt-4o-mini',
    status: 200,
    streamed: false,
    input: plain.usage!.prompt_tokens,
    output: plain.usage!.completion_tokens,
  });

  // 2. OpenAI, streamed with the usage chunk.
  const stream = await openai().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'stream five words back to me' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamed: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of stream) if (chunk.usage) streamed = chunk.usage;
  sent.push({
    model: 'gpt-4o-mini',
    status: 200,
    streamed: true,
    input: streamed!.prompt_tokens,
    output: streamed!.completion_tokens,
  });

  // 3. Anthropic, not streamed; 4. streamed.
  const message = await anthropic().messages.create({
    model: CLAUDE,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'hello claude, a few words' }],
  });
  sent.push({
    model: CLAUDE,
    status: 200,
    streamed: false,
    input: message.usage.input_tokens,
    output: message.usage.output_tokens,
  });
  const final = await anthropic()
    .messages.stream({ model: CLAUDE, max_tokens: 64, messages: [{ role: 'user', content: 'stream to me claude' }] })
    .finalMessage();
  sent.push({
    model: CLAUDE,
    status: 200,
    streamed: true,
    input: final.usage.input_tokens,
    output: final.usage.output_tokens,
  });

  // 5. Refused by the upstream (a request error: no retry); 6. a model no credential serves.
  mock.setBehavior('claude-usage-key', { status: 400 });
  const refused = await anthropic()
    .messages.create({ model: CLAUDE, max_tokens: 64, messages: [{ role: 'user', content: 'refuse me' }] })
    .catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(AnthropicError);
  expect((refused as AnthropicError).status).toBe(400);
  sent.push({ model: CLAUDE, status: 400, streamed: false, input: 0, output: 0 });
  const unknown = await openai()
    .chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
    .catch((err: unknown) => err);
  expect(unknown).toBeInstanceOf(OpenAIError);
  expect((unknown as OpenAIError).status).toBe(404);
  sent.push({ model: 'no-such-model', status: 404, streamed: false, input: 0, output: 0 });

  // Recorded by the schedulers, buffered in Redis, written by the admin's drain.
  await waitFor(async () => (await allRequests()).length === sent.length || undefined, 20_000, 200);
}, 60_000);

describe('per-request usage', () => {
  it('has one row per request whose tokens are exactly what the upstream reported, with status, attempts and timing', async () => {
    const rows = (await allRequests()).reverse(); // oldest first, the order they were sent in
    expect(rows).toHaveLength(sent.length);
    expect(sum(rows.map((r) => ({ input: r.input_tokens, output: r.output_tokens })))).toEqual(sum(sent));
    for (const [i, expected] of sent.entries()) {
      const row = rows[i]!;
      expect({ model: row.model, status: row.status, input: row.input_tokens, output: row.output_tokens }).toEqual({
        model: expected.model,
        status: expected.status,
        input: expected.input,
        output: expected.output,
      });
      expect(row).toMatchObject({ cached_tokens: 0, reasoning_tokens: 0 });
      expect(row.client_key_id).not.toBeNull();
      expect(row.latency_ms).toBeGreaterThanOrEqual(0);
      if (expected.streamed) {
        expect(row.ttfb_ms).not.toBeNull();
        expect(row.ttfb_ms!).toBeLessThanOrEqual(row.latency_ms);
      } else expect(row.ttfb_ms).toBeNull();
    }
    expect(
      rows
        .filter((r) => r.status < 400)
        .every((r) => r.input_tokens > 0 && r.output_tokens > 0 && r.attempts === 1 && r.credential_id !== null),
    ).toBe(true);
    expect(rows.map((r) => r.family)).toEqual(['openai-compat', 'openai-compat', 'claude', 'claude', 'claude', null]);
    expect(rows[4]).toMatchObject({ status: 400, attempts: 1, credential_label: expect.any(String) });
    expect(rows[5]).toMatchObject({ status: 404, attempts: 0, credential_id: null });
  });

  it('pages newest first with a cursor and filters by status, family and model', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: UsageRequestPage = await json(`/usage/requests?limit=4${cursor ? `&before_id=${cursor}` : ''}`);
      seen.push(...page.requests.map((r) => r.id));
      cursor = page.next_before_id;
    } while (cursor);
    expect(seen).toEqual((await allRequests()).map((r) => r.id));
    expect((await json<UsageRequestPage>('/usage/requests?status=error')).requests.map((r) => r.status).sort()).toEqual(
      [400, 404],
    );
    expect((await json<UsageRequestPage>('/usage/requests?family=openai-compat')).requests).toHaveLength(2);
    expect((await json<UsageRequestPage>(`/usage/requests?model=${CLAUDE}&status=200`)).requests).toHaveLength(2);
    const bad = await management('/usage/requests?limit=0');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringContaining('limit') });
  });

  it('exports every matching row as CSV with the same numbers', async () => {
    const res = await management('/usage/requests?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const [header, ...lines] = (await res.text()).trimEnd().split('\r\n');
    const columns = header!.split(',');
    expect(columns.slice(0, 16)).toEqual([
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
    ]);
    expect(lines).toHaveLength(sent.length);
    const cells = lines.map((line) => line.split(','));
    const col = (name: string) => columns.indexOf(name);
    expect(
      sum(cells.map((c) => ({ input: Number(c[col('input_tokens')]), output: Number(c[col('output_tokens')]) }))),
    ).toEqual(sum(sent));
    expect(cells.map((c) => Number(c[col('status')])).sort()).toEqual(sent.map((s) => s.status).sort());
  });

  it('summarises per hour and per day with errors, token totals and latency percentiles', async () => {
    for (const bucket of ['hour', 'day']) {
      const summary = await json<{
        bucket: string;
        series: { requests: number; latency_p50_ms: number | null; ttfb_p50_ms: number | null }[];
        totals: Record<string, number>;
      }>(`/usage/summary?bucket=${bucket}`);
      expect(summary.bucket).toBe(bucket);
      const total = sum(sent);
      expect(summary.totals).toEqual({
        requests: sent.length,
        errors: 2,
        input_tokens: total.input,
        output_tokens: total.output,
        cached_tokens: 0,
        reasoning_tokens: 0,
      });
      expect(summary.series.reduce((n, p) => n + p.requests, 0)).toBe(sent.length);
      const busy = summary.series.filter((p) => p.requests > 0);
      expect(busy.every((p) => p.latency_p50_ms !== null)).toBe(true);
      expect(busy.some((p) => p.ttfb_p50_ms !== null)).toBe(true);
    }
  });

  it("answers CLIProxyAPI's GET /usage, and its export imports back: once without duplicates, again shifted as new requests", async () => {
    type Snapshot = {
      total_requests: number;
      failure_count: number;
      total_tokens: number;
      apis: Record<string, { models: Record<string, { details: { timestamp: string; failed: boolean }[] }> }>;
    };
    const total = sum(sent);
    const report = await json<{ usage: Snapshot; failed_requests: number }>('/usage');
    expect(report).toMatchObject({
      failed_requests: 2,
      usage: { total_requests: sent.length, failure_count: 2, total_tokens: total.input + total.output },
    });

    const exported = await json<{ version: number; exported_at: string; usage: Snapshot }>('/usage/export');
    expect(exported.version).toBe(1);
    expect(exported.usage.total_requests).toBe(sent.length);
    const again = await json<{ added: number; skipped: number; total_requests: number; failed_requests: number }>(
      '/usage/import',
      { method: 'POST', body: JSON.stringify(exported) },
    );
    expect(again).toEqual({ added: 0, skipped: sent.length, total_requests: sent.length, failed_requests: 2 });

    // The same export a second later: CLIProxyAPI counts these as other requests.
    const shifted = structuredClone(exported);
    for (const api of Object.values(shifted.usage.apis))
      for (const model of Object.values(api.models))
        for (const detail of model.details)
          detail.timestamp = new Date(Date.parse(detail.timestamp) + 1_000).toISOString();
    const imported = await json<{ added: number; skipped: number; total_requests: number; failed_requests: number }>(
      '/usage/import',
      { method: 'POST', body: JSON.stringify(shifted) },
    );
    expect(imported).toEqual({ added: sent.length, skipped: 0, total_requests: 2 * sent.length, failed_requests: 4 });
    const after = await json<{ usage: Snapshot }>('/usage');
    expect(after.usage).toMatchObject({
      total_requests: 2 * sent.length,
      failure_count: 4,
      total_tokens: 2 * (total.input + total.output),
    });
    const reexported = await json<{ usage: Snapshot }>('/usage/export');
    const models = (s: Snapshot) =>
      Object.fromEntries(Object.entries(s.apis).map(([name, api]) => [name, Object.keys(api.models).sort()]));
    expect(models(reexported.usage)).toEqual(models(exported.usage));

    const bad = await management('/usage/import', { method: 'POST', body: JSON.stringify({ version: 7, usage: {} }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'unsupported version' });
  });
});
