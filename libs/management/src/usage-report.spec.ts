import { describe, expect, it } from 'vitest';
import { hashClientKey, type UsageRequestRow } from '@cpa/db';
import {
  addToSnapshot,
  emptySnapshot,
  importRecords,
  sortDetails,
  UsageReportService,
  type ImportTargets,
} from './usage-report';

const row = (over: Partial<UsageRequestRow> = {}): UsageRequestRow => ({
  id: '1',
  at: new Date('2026-11-24T10:15:00.000Z'),
  requestId: 'r',
  clientKeyId: 'k1',
  credentialId: 'c1',
  family: 'claude',
  model: 'm1',
  status: 200,
  latencyMs: 120,
  ttfbMs: null,
  inputTokens: 10,
  outputTokens: 5,
  cachedTokens: 0,
  reasoningTokens: 0,
  attempts: 1,
  source: '',
  ...over,
});
const names = {
  clientKeys: new Map([['k1', 'team-a']]),
  credentials: new Map([['c1', { label: 'work', account: 'me@example.com' }]]),
};

describe('CLIProxyAPI usage snapshot', () => {
  it('has its shape: totals, apis by client key then model with details, and UTC day and hour counts', () => {
    const snapshot = emptySnapshot();
    addToSnapshot(
      snapshot,
      row({ at: new Date('2026-11-25T09:00:00Z'), status: 502, inputTokens: 3, outputTokens: 0 }),
      names,
    );
    addToSnapshot(snapshot, row({ cachedTokens: 4, reasoningTokens: 2 }), names);
    addToSnapshot(
      snapshot,
      row({ clientKeyId: '', model: 'm2', credentialId: 'gone', source: 'imported@example.com' }),
      names,
    );
    sortDetails(snapshot);
    expect(snapshot).toMatchObject({
      total_requests: 3,
      success_count: 2,
      failure_count: 1,
      total_tokens: 33,
      requests_by_day: { '2026-11-24': 2, '2026-11-25': 1 },
      requests_by_hour: { '10': 2, '09': 1 },
      tokens_by_day: { '2026-11-24': 30, '2026-11-25': 3 },
      tokens_by_hour: { '10': 30, '09': 3 },
    });
    expect(Object.keys(snapshot.apis).sort()).toEqual(['team-a', 'unknown']);
    const m1 = snapshot.apis['team-a']!.models.m1!;
    expect(m1).toMatchObject({ total_requests: 2, total_tokens: 18 });
    expect(m1.details).toEqual([
      {
        timestamp: '2026-11-24T10:15:00.000Z',
        latency_ms: 120,
        source: 'me@example.com',
        auth_index: 'c1',
        tokens: { input_tokens: 10, output_tokens: 5, reasoning_tokens: 2, cached_tokens: 4, total_tokens: 15 },
        failed: false,
      },
      expect.objectContaining({ timestamp: '2026-11-25T09:00:00.000Z', failed: true }),
    ]);
    expect(snapshot.apis.unknown!.models.m2!.details[0]).toMatchObject({
      source: 'imported@example.com',
      auth_index: 'gone',
    });
  });
});

describe('importRecords', () => {
  const targets: ImportTargets = {
    clientKeyByName: new Map([
      ['team-a', 'k1'],
      ['k1', 'k1'],
    ]),
    clientKeyByHash: new Map([[hashClientKey('sk-raw-key'), 'k2']]),
    credentialFamily: new Map([['c1', 'claude']]),
  };
  const detail = {
    timestamp: '2026-11-24T10:15:00.123456789Z',
    latency_ms: 88,
    source: 's',
    auth_index: 'c1',
    tokens: { input_tokens: 4, output_tokens: 6, reasoning_tokens: 1, cached_tokens: 2, total_tokens: 10 },
    failed: false,
  };

  it('maps client key names (and raw keys, by hash) and credentials, keeps CLIProxyAPI names it does not know', () => {
    const records = importRecords(
      {
        version: 1,
        usage: {
          apis: {
            'team-a': { models: { m: { details: [detail] } } },
            'sk-raw-key': { models: { m: { details: [{ ...detail, failed: true }] } } },
            other: { models: { m: { details: [{ ...detail, auth_index: 'x' }] } } },
            unknown: { models: { '': { details: [{}] } } },
          },
        },
      },
      targets,
      5,
    );
    expect(records).toEqual([
      {
        requestId: '',
        at: Date.parse('2026-11-24T10:15:00.123Z'),
        clientKeyId: 'k1',
        credentialId: 'c1',
        family: 'claude',
        model: 'm',
        status: 200,
        latencyMs: 88,
        ttfbMs: null,
        inputTokens: 4,
        outputTokens: 6,
        cachedTokens: 2,
        reasoningTokens: 1,
        attempts: 1,
        source: 's',
      },
      expect.objectContaining({ clientKeyId: 'k2', status: 500 }),
      expect.objectContaining({ clientKeyId: 'other', credentialId: 'x', family: '' }),
      expect.objectContaining({ clientKeyId: '', model: 'unknown', at: 5, inputTokens: 0 }),
    ]);
  });

  it("answers CLIProxyAPI's 400s", () => {
    expect(() => importRecords('nope', targets)).toThrow(
      expect.objectContaining({ status: 400, message: 'invalid json' }),
    );
    expect(() => importRecords({ version: 2, usage: {} }, targets)).toThrow(
      expect.objectContaining({ status: 400, message: 'unsupported version' }),
    );
    expect(() =>
      importRecords({ usage: { apis: { a: { models: { m: { details: [{ latency_ms: 'slow' }] } } } } } }, targets),
    ).toThrow(expect.objectContaining({ status: 400 }));
    expect(() =>
      importRecords(
        { usage: { apis: { a: { models: { m: { details: [{ tokens: { input_tokens: 1e20 } }] } } } } } },
        targets,
      ),
    ).toThrow(expect.objectContaining({ status: 400 }));
    expect(importRecords({}, targets)).toEqual([]);
    expect(
      importRecords({ usage: { apis: { a: { models: { m: { details: [{ latency_ms: 1e12 }] } } } } } }, targets)[0]!
        .latencyMs,
    ).toBe(2_147_483_647);
  });
});

describe('UsageReportService.report', () => {
  const service = (rows: UsageRequestRow[], seen: unknown[] = []) =>
    new UsageReportService({
      names: async () => names,
      each: async function* (filter: unknown) {
        seen.push(filter);
        yield* rows;
      },
    } as never);

  it('defaults to the last 30 days, filters by credential and model, and answers {usage, failed_requests}', async () => {
    const seen: unknown[] = [];
    const report = await service([row({ status: 500 })], seen).report(
      { credential: 'c1', model: 'm1' },
      new Date('2026-11-25T12:00:00Z'),
    );
    expect(seen[0]).toEqual({
      from: new Date('2026-10-27T00:00:00Z'),
      to: new Date('2026-11-26T00:00:00Z'),
      credentialId: 'c1',
      model: 'm1',
    });
    expect(report).toMatchObject({ failed_requests: 1, usage: { total_requests: 1, failure_count: 1 } });
  });

  it('rejects malformed or inverted ranges with 400', async () => {
    await expect(service([]).report({ from: 'yesterday' })).rejects.toMatchObject({ status: 400 });
    await expect(service([]).report({ from: '2026-11-25', to: '2026-11-01' })).rejects.toMatchObject({ status: 400 });
  });
});
