/**
 * The usage endpoints of a real admin on its own database: names joined into the views,
 * CSV with awkward text, summaries, CLIProxyAPI's shapes, the admin's drain of buffered
 * records, and 503 while Postgres is unreachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageRequestRepository, type UsageRequestRecord } from '@cpa/db';
import { UsageBuffer } from '@cpa/routing-state';
import { UsageDrain } from '@cpa/routing-state/postgres';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-usage';
const CLIENT_KEY = 'sk-usage-client-key-123456';
let admin: AdminUnderTest;
let keyId: string;
let credentialId: string;

beforeAll(async () => {
  admin = await startAdminUnderTest({
    name: 'admin-usage',
    configYaml: `api-keys: [${CLIENT_KEY}]\nclaude-api-key:\n  - api-key: sk-ant-usage-claude-key-aaaa\nremote-management:\n  secret-key: ${SECRET}\n`,
    env: () => ({ USAGE_DRAIN_MS: '0', USAGE_RETENTION_SWEEP_MS: '0' }),
  });
  keyId = (await admin.db.prisma.clientApiKey.findFirstOrThrow()).id;
  await admin.db.prisma.clientApiKey.update({ where: { id: keyId }, data: { label: 'team-a' } });
  credentialId = (await admin.db.prisma.credential.findFirstOrThrow()).id;
});
afterAll(() => admin?.close());

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await admin.app.inject({
    method,
    url: `/v0/management${path}`,
    headers: {
      authorization: `Bearer ${SECRET}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    payload: body === undefined ? undefined : JSON.stringify(body),
    remoteAddress: '127.0.0.1',
  });
  return {
    status: response.statusCode,
    text: response.body,
    headers: response.headers,
    json: <T = Record<string, unknown>>() => response.json() as T,
  };
}

const AT = Date.parse('2030-02-03T04:05:06.789Z');
let n = 0;
const record = (over: Partial<UsageRequestRecord> = {}): UsageRequestRecord => ({
  key: `k${++n}`,
  requestId: `req-${n}`,
  at: AT,
  clientKeyId: '',
  credentialId: '',
  family: 'claude',
  model: 'claude-x',
  status: 200,
  latencyMs: 100,
  ttfbMs: null,
  inputTokens: 10,
  outputTokens: 20,
  cachedTokens: 3,
  reasoningTokens: 4,
  attempts: 1,
  ...over,
});

describe('usage endpoints', () => {
  it('drains buffered records into rows that the list shows with client key and credential names', async () => {
    const buffer = new UsageBuffer({
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      keyPrefix: admin.prefix,
    });
    const drain = admin.app.get(UsageDrain);
    try {
      await buffer.pushRequests([
        record({ clientKeyId: keyId, credentialId, ttfbMs: 30 }),
        record({
          clientKeyId: keyId,
          credentialId,
          at: AT + 1,
          model: '=cmd|"x",y',
          status: 429,
          inputTokens: 0,
          outputTokens: 0,
          cachedTokens: 0,
          reasoningTokens: 0,
          attempts: 3,
        }),
        record({ at: AT + 2, model: 'gone', status: 404, attempts: 0, family: '' }),
      ]);
      expect(await drain.drain()).toBe(1);
    } finally {
      buffer.onModuleDestroy();
    }
    const list = await call('GET', '/usage/requests');
    expect(list.status).toBe(200);
    const { requests, next_before_id } = list.json<{
      requests: Record<string, unknown>[];
      next_before_id: string | null;
    }>();
    expect(next_before_id).toBeNull();
    expect(requests.map((r) => r.status)).toEqual([404, 429, 200]);
    expect(requests[2]).toEqual({
      id: expect.any(String),
      at: '2030-02-03T04:05:06.789Z',
      client_key_id: keyId,
      client_key_name: 'team-a',
      credential_id: credentialId,
      credential_label: expect.any(String),
      family: 'claude',
      model: 'claude-x',
      status: 200,
      latency_ms: 100,
      ttfb_ms: 30,
      input_tokens: 10,
      output_tokens: 20,
      cached_tokens: 3,
      reasoning_tokens: 4,
      attempts: 1,
      request_id: 'req-1',
    });
    expect(requests[0]).toMatchObject({
      client_key_id: null,
      client_key_name: null,
      credential_id: null,
      credential_label: null,
      family: null,
      attempts: 0,
    });

    const page = await call('GET', '/usage/requests?limit=2');
    const first = page.json<{ requests: { id: string }[]; next_before_id: string }>();
    expect(first.next_before_id).toBe(first.requests[1]!.id);
    const rest = (await call('GET', `/usage/requests?limit=2&before_id=${first.next_before_id}`)).json<{
      requests: { id: string }[];
    }>();
    expect([...first.requests, ...rest.requests].map((r) => r.id)).toEqual(requests.map((r) => r.id));
  });

  it('exports CSV with quoted and defused text', async () => {
    const csv = await call('GET', `/usage/requests?format=csv&client_key_id=${keyId}`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toBe(
      'id,at,client_key_id,client_key_name,credential_id,credential_label,family,model,status,latency_ms,ttfb_ms,input_tokens,output_tokens,cached_tokens,reasoning_tokens,attempts,request_id',
    );
    expect(lines).toHaveLength(4); // two rows and the final CRLF
    expect(lines[1]).toContain(`,team-a,`);
    expect(lines[1]).toContain(`,"'=cmd|""x"",y",429,`);
    expect(lines[2]).toContain(',claude-x,200,100,30,10,20,3,4,1,req-1');
  });

  it("summarises by hour with the contract's fields", async () => {
    const res = await call('GET', '/usage/summary?bucket=hour&from=2030-02-03T00:00:00Z&to=2030-02-03T06:00:00Z');
    expect(res.status).toBe(200);
    const summary = res.json<{ series: Record<string, unknown>[]; totals: unknown }>();
    expect(summary.series).toHaveLength(6);
    expect(summary.series[4]).toMatchObject({
      start: '2030-02-03T04:00:00.000Z',
      requests: 3,
      errors: 2,
      input_tokens: 20,
      output_tokens: 40,
      cached_tokens: 6,
      reasoning_tokens: 8,
      ttfb_p50_ms: expect.any(Number),
    });
    expect(summary.totals).toEqual({
      requests: 3,
      errors: 2,
      input_tokens: 20,
      output_tokens: 40,
      cached_tokens: 6,
      reasoning_tokens: 8,
    });
    expect((await call('GET', '/usage/summary?bucket=week')).status).toBe(400);
  });

  it("answers CLIProxyAPI's usage, export and import", async () => {
    const report = (await call('GET', '/usage?from=2030-02-01&to=2030-02-05')).json<{
      usage: Record<string, unknown>;
      failed_requests: number;
    }>();
    expect(report).toMatchObject({
      failed_requests: 2,
      usage: { total_requests: 3, success_count: 1, failure_count: 2, total_tokens: 60, requests_by_hour: { '04': 3 } },
    });
    expect(Object.keys(report.usage.apis as object).sort()).toEqual(['team-a', 'unknown']);

    const exported = (await call('GET', '/usage/export')).json<{ version: number; usage: unknown }>();
    const again = await call('POST', '/usage/import', exported);
    expect(again.status).toBe(200);
    expect(again.json()).toEqual({ added: 0, skipped: 3, total_requests: 3, failed_requests: 2 });
    // A raw CLIProxyAPI key is recognised by its hash and counted for that client key.
    const raw = await call('POST', '/usage/import', {
      version: 1,
      usage: {
        apis: {
          [CLIENT_KEY]: {
            models: {
              m: {
                details: [
                  {
                    timestamp: '2030-02-03T05:00:00Z',
                    latency_ms: 5,
                    auth_index: credentialId,
                    tokens: { input_tokens: 1, output_tokens: 2 },
                    failed: false,
                  },
                ],
              },
            },
          },
        },
      },
    });
    expect(raw.json()).toEqual({ added: 1, skipped: 0, total_requests: 4, failed_requests: 2 });
    const imported = (await call('GET', '/usage/requests?model=m')).json<{ requests: Record<string, unknown>[] }>()
      .requests;
    expect(imported).toEqual([
      expect.objectContaining({
        client_key_id: keyId,
        client_key_name: 'team-a',
        credential_id: credentialId,
        family: 'claude',
        status: 200,
        ttfb_ms: null,
        attempts: 1,
      }),
    ]);
    expect(
      JSON.stringify(await admin.db.prisma.usageRequest.findMany(), (_, v: unknown) =>
        typeof v === 'bigint' ? String(v) : v,
      ),
    ).not.toContain(CLIENT_KEY);
    expect((await call('POST', '/usage/import', { version: 9 })).json()).toEqual({ error: 'unsupported version' });
  });

  it('answers 503 while Postgres is unreachable', async () => {
    const repo = admin.app.get(UsageRequestRepository);
    const original = repo.list.bind(repo);
    const unavailable = Object.assign(new Error("Can't reach database server"), { code: 'P1001' });
    repo.list = () => Promise.reject(unavailable);
    try {
      for (const path of ['/usage/requests', '/usage/requests?format=csv']) {
        const res = await call('GET', path);
        expect(res.status).toBe(503);
        expect(res.json()).toEqual({ error: 'database unavailable' });
      }
    } finally {
      repo.list = original;
    }
  });
});
