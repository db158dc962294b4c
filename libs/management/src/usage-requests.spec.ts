import { describe, expect, it } from 'vitest';
import { emptyHistogram, histogramIndex, type UsageBucket, type UsageRequestRow } from '@cpa/db';
import {
  csvField,
  csvRow,
  parseUsageListQuery,
  parseUsageSummaryQuery,
  summarise,
  USAGE_CSV_COLUMNS,
  usageCsvRow,
  usageRequestView,
} from './usage-requests';

describe('parseUsageListQuery', () => {
  it('reads every filter, the page size and cursor', () => {
    expect(
      parseUsageListQuery({
        from: '2030-01-01',
        to: '2030-01-02T12:00:00+02:00',
        client_key_id: 'k',
        credential_id: 'c',
        family: 'claude',
        model: 'm',
        status: '429',
        limit: '5',
        before_id: '42',
        format: 'csv',
      }),
    ).toEqual({
      filter: {
        from: new Date('2030-01-01T00:00:00Z'),
        to: new Date('2030-01-02T10:00:00Z'),
        clientKeyId: 'k',
        credentialId: 'c',
        family: 'claude',
        model: 'm',
        status: 429,
      },
      limit: 5,
      beforeId: '42',
      format: 'csv',
    });
    expect(parseUsageListQuery({})).toEqual({ filter: {}, limit: 100, format: 'json' });
    expect(parseUsageListQuery({ status: 'error', from: '1893456000000' }).filter).toEqual({
      status: 'error',
      from: new Date(1_893_456_000_000),
    });
  });

  it('answers 400 for malformed input', () => {
    for (const query of [
      { limit: '0' },
      { limit: '1001' },
      { limit: 'ten' },
      { before_id: 'abc' },
      { status: '4xx' },
      { format: 'xml' },
      { from: 'yesterday' },
      { from: '2030-01-01T10:00:00' /* no zone */ },
      { from: '2030-01-02', to: '2030-01-01' },
      { model: ' ' },
      { from: '9999999999999999' /* past what a Date holds */ },
      { before_id: '9999999999999999999' /* past BIGINT */ },
    ]) {
      expect(() => parseUsageListQuery(query), JSON.stringify(query)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });
});

describe('parseUsageSummaryQuery', () => {
  const now = new Date('2030-01-10T10:30:00Z');
  it('defaults to the last 24 hours by hour, or 30 days by day, ending with the current bucket', () => {
    expect(parseUsageSummaryQuery({}, now)).toEqual({
      bucket: 'hour',
      filter: { from: new Date('2030-01-09T11:00:00Z'), to: new Date('2030-01-10T11:00:00Z') },
    });
    expect(parseUsageSummaryQuery({ bucket: 'day', model: 'm' }, now)).toEqual({
      bucket: 'day',
      filter: { model: 'm', from: new Date('2029-12-12T00:00:00Z'), to: new Date('2030-01-11T00:00:00Z') },
    });
  });
  it('rejects other buckets', () => {
    expect(() => parseUsageSummaryQuery({ bucket: 'week' }, now)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes and line breaks, and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@sum')).toBe("'@sum");
    expect(csvField(-5)).toBe('-5');
    expect(csvField(null)).toBe('');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
  });

  const row: UsageRequestRow = {
    id: '7',
    at: new Date('2030-01-01T00:00:00.5Z'),
    requestId: 'r',
    clientKeyId: 'k',
    credentialId: 'c',
    family: 'claude',
    model: 'm,1',
    status: 200,
    latencyMs: 12,
    ttfbMs: null,
    inputTokens: 1,
    outputTokens: 2,
    cachedTokens: 3,
    reasoningTokens: 4,
    attempts: 1,
    source: '',
  };
  const names = {
    clientKeys: new Map([['k', 'team']]),
    credentials: new Map([['c', { label: '', account: 'me@example.com' }]]),
  };

  it('has the contract fields in the header and one line per request in the same order', () => {
    expect(csvRow(USAGE_CSV_COLUMNS)).toBe(
      'id,at,client_key_id,client_key_name,credential_id,credential_label,family,model,status,latency_ms,ttfb_ms,input_tokens,output_tokens,cached_tokens,reasoning_tokens,attempts,request_id\r\n',
    );
    expect(usageCsvRow(usageRequestView(row, names))).toBe(
      '7,2030-01-01T00:00:00.500Z,k,team,c,me@example.com,claude,"m,1",200,12,,1,2,3,4,1,r\r\n',
    );
  });

  it('shows null ids and names for requests without a client key or credential', () => {
    expect(
      usageRequestView({ ...row, clientKeyId: '', credentialId: '', family: '', requestId: '' }, names),
    ).toMatchObject({
      client_key_id: null,
      client_key_name: null,
      credential_id: null,
      credential_label: null,
      family: null,
      request_id: null,
    });
    expect(usageRequestView({ ...row, clientKeyId: 'gone', credentialId: 'gone' }, names)).toMatchObject({
      client_key_name: null,
      credential_label: null,
    });
  });
});

describe('summarise', () => {
  const bucket = (start: string, over: Partial<UsageBucket> = {}): UsageBucket => ({
    start: new Date(start),
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    latencyHist: emptyHistogram(),
    ttfbHist: emptyHistogram(),
    ...over,
  });

  it('fills every bucket of the range, computes percentiles from the histograms and totals exactly', () => {
    const latency = emptyHistogram();
    latency[histogramIndex(5)] = 19;
    latency[histogramIndex(9)] = 1;
    const summary = summarise(
      [
        bucket('2030-01-01T01:00:00Z', {
          requests: 20,
          errors: 2,
          inputTokens: 100,
          outputTokens: 50,
          cachedTokens: 10,
          reasoningTokens: 5,
          latencyHist: latency,
        }),
      ],
      'hour',
      new Date('2030-01-01T00:30:00Z'),
      new Date('2030-01-01T03:00:00Z'),
    );
    expect(summary.series.map((p) => [p.start, p.requests])).toEqual([
      ['2030-01-01T00:00:00.000Z', 0],
      ['2030-01-01T01:00:00.000Z', 20],
      ['2030-01-01T02:00:00.000Z', 0],
    ]);
    expect(summary.series[1]).toMatchObject({
      errors: 2,
      latency_p50_ms: 5,
      latency_p95_ms: 5,
      ttfb_p50_ms: null,
      ttfb_p95_ms: null,
    });
    expect(summary.series[0]).toMatchObject({ latency_p50_ms: null });
    expect(summary.totals).toEqual({
      requests: 20,
      errors: 2,
      input_tokens: 100,
      output_tokens: 50,
      cached_tokens: 10,
      reasoning_tokens: 5,
    });
  });

  it('lists only non-empty buckets of very long ranges', () => {
    const summary = summarise(
      [bucket('2030-01-01T00:00:00Z', { requests: 1 })],
      'hour',
      new Date('2020-01-01T00:00:00Z'),
      new Date('2030-02-01T00:00:00Z'),
    );
    expect(summary.series).toHaveLength(1);
  });
});
