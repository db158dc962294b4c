import { describe, expect, it } from 'vitest';
import { formatGoDuration, formatGoDurationNs, parseGoDuration, roundGoDurationNs } from './go-duration';

describe('formatGoDuration (Go time.Duration.String)', () => {
  it.each([
    [0, '0s'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [30 * 60_000, '30m0s'],
    [12 * 3_600_000, '12h0m0s'],
    [3_600_000 + 60_000 + 1_000, '1h1m1s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.001, '1µs'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [61_001, '1m1.001s'],
    [-1_500, '-1.5s'],
    [100 * 3_600_000, '100h0m0s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
  });

  it('keeps nanosecond precision for large values', () => {
    expect(formatGoDurationNs(3_600_000_000_001n)).toBe('1h0m0.000000001s');
  });
});

describe('roundGoDurationNs (Go Duration.Round)', () => {
  it('rounds halfway values away from zero', () => {
    expect(roundGoDurationNs(1_500_000_000n, 1_000_000_000n)).toBe(2_000_000_000n);
    expect(roundGoDurationNs(1_499_999_999n, 1_000_000_000n)).toBe(1_000_000_000n);
    expect(roundGoDurationNs(-1_500_000_000n, 1_000_000_000n)).toBe(-2_000_000_000n);
  });
});

describe('parseGoDuration (Go time.ParseDuration)', () => {
  it.each([
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['0.5s', 500],
    ['300ms', 300],
    ['2h45m', 9_900_000],
    ['1h2m3s', 3_723_000],
    ['-1s', -1_000],
    ['0', 0],
    ['10us', 0.01],
    ['10µs', 0.01],
    ['.5s', 500],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', 's', '10', '1x', '1.s.', 'abc'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});
