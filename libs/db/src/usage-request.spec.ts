import { describe, expect, it } from 'vitest';
import {
  addHistogram,
  emptyHistogram,
  HISTOGRAM_SIZE,
  histogramIndex,
  histogramQuantile,
  hourStart,
  isErrorStatus,
  LATENCY_BOUNDS_MS,
  rollupHourly,
} from './usage-request';

describe('latency histogram', () => {
  it('has 1 ms buckets to 10 ms, then grows by at most 20 % per bucket up to 30 minutes', () => {
    expect(LATENCY_BOUNDS_MS.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 10; i < LATENCY_BOUNDS_MS.length; i++) {
      const [prev, cur] = [LATENCY_BOUNDS_MS[i - 1]!, LATENCY_BOUNDS_MS[i]!];
      expect(cur).toBeGreaterThan(prev);
      expect(cur).toBeLessThanOrEqual(Math.ceil(prev * 1.2));
    }
    expect(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]).toBeGreaterThanOrEqual(1_800_000);
    expect(HISTOGRAM_SIZE).toBe(LATENCY_BOUNDS_MS.length + 1);
  });

  it('puts a duration in the first bucket whose upper bound holds it; beyond the last bound in the overflow bucket', () => {
    expect(histogramIndex(0)).toBe(0);
    expect(histogramIndex(-5)).toBe(0);
    expect(histogramIndex(1)).toBe(0);
    expect(histogramIndex(1.5)).toBe(1);
    expect(histogramIndex(10)).toBe(9);
    expect(histogramIndex(11)).toBe(10);
    for (const ms of [37, 250, 999, 12_345, 600_000]) {
      const i = histogramIndex(ms);
      expect(ms).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
      expect(ms).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
    }
    expect(histogramIndex(10_000_000)).toBe(HISTOGRAM_SIZE - 1);
  });

  it('answers quantiles within the bucket of the true value, interpolating inside it', () => {
    expect(histogramQuantile(emptyHistogram(), 0.5)).toBeNull();
    const h = emptyHistogram();
    // 100 requests: 1..100 ms.
    for (let ms = 1; ms <= 100; ms++) h[histogramIndex(ms)]! += 1;
    for (const [p, exact] of [
      [0.5, 50],
      [0.95, 95],
      [0.99, 99],
    ] as const) {
      const q = histogramQuantile(h, p)!;
      expect(q).toBeGreaterThanOrEqual(LATENCY_BOUNDS_MS[histogramIndex(exact) - 1]!);
      expect(q).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[histogramIndex(exact)]!);
    }
    // One value: every quantile lies in its bucket.
    const single = emptyHistogram();
    single[histogramIndex(250)] = 1;
    const i = histogramIndex(250);
    expect(histogramQuantile(single, 0.5)).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
    expect(histogramQuantile(single, 0.5)).toBeLessThanOrEqual(LATENCY_BOUNDS_MS[i]!);
    // Exact below 10 ms (1 ms buckets): p100 of {3, 3, 3} is 3.
    const small = emptyHistogram();
    small[histogramIndex(3)] = 3;
    expect(histogramQuantile(small, 1)).toBe(3);
  });

  it('sums histograms element-wise, padding the shorter one', () => {
    expect(addHistogram([1, 2], [3, 4, 5])).toEqual([4, 6, 5]);
    expect(addHistogram([1, 2, 3], [1])).toEqual([2, 2, 3]);
  });
});

describe('hourly roll-up', () => {
  it('truncates to the UTC hour', () => {
    expect(hourStart(Date.parse('2030-01-01T10:59:59.999Z')).toISOString()).toBe('2030-01-01T10:00:00.000Z');
    expect(hourStart(new Date('2030-01-01T11:00:00Z')).toISOString()).toBe('2030-01-01T11:00:00.000Z');
  });

  it('sums requests per hour and dimension set, tokens exactly, latencies into histograms (ttfb only when present)', () => {
    const base = {
      clientKeyId: 'k',
      credentialId: 'c',
      family: 'claude',
      model: 'm',
      status: 200,
      ttfbMs: null,
      inputTokens: 1,
      outputTokens: 2,
      cachedTokens: 3,
      reasoningTokens: 4,
    };
    const rows = rollupHourly([
      { ...base, at: Date.parse('2030-01-01T10:05:00Z'), latencyMs: 100, ttfbMs: 20 },
      { ...base, at: Date.parse('2030-01-01T10:55:00Z'), latencyMs: 100 },
      { ...base, at: Date.parse('2030-01-01T10:10:00Z'), latencyMs: 5, status: 500 },
      { ...base, at: Date.parse('2030-01-01T09:10:00Z'), latencyMs: 5 },
    ]);
    expect(rows.map((r) => [r.hour.toISOString(), r.status, r.requests, r.inputTokens, r.reasoningTokens])).toEqual([
      ['2030-01-01T09:00:00.000Z', 200, 1, 1, 4],
      ['2030-01-01T10:00:00.000Z', 200, 2, 2, 8],
      ['2030-01-01T10:00:00.000Z', 500, 1, 1, 4],
    ]);
    expect(rows[1]!.latencyHist[histogramIndex(100)]).toBe(2);
    expect(rows[1]!.ttfbHist.reduce((s, n) => s + n, 0)).toBe(1);
    expect(rows[1]!.ttfbHist[histogramIndex(20)]).toBe(1);
  });

  it('counts 4xx, 5xx and status-less outcomes as errors', () => {
    expect([200, 302, 399, 400, 429, 500, 0].map(isErrorStatus)).toEqual([false, false, false, true, true, true, true]);
  });
});
