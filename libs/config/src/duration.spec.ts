import { describe, expect, it } from 'vitest';
import { formatDurationSeconds, parseDurationSeconds } from './duration';

describe('parseDurationSeconds', () => {
  it.each([
    ['1h', 3600],
    ['30s', 30],
    ['5m', 300],
    ['1h30m', 5400],
    ['1m30s', 90],
    ['500ms', 0.5],
    ['1.5h', 5400],
    ['45', 45],
    [' 2m ', 120],
    ['.5s', 0.5],
    ['+1m', 60],
  ])('reads Go duration %j as %d seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it('reads a bare number as seconds', () => {
    expect(parseDurationSeconds(30)).toBe(30);
    expect(parseDurationSeconds(0)).toBe(0);
  });

  it.each(['', 'h', '1x', '1h foo', 'one hour', '-5s', '1h-2m'])('rejects %j', (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });

  it('rejects negative and non-finite numbers', () => {
    expect(parseDurationSeconds(-1)).toBeUndefined();
    expect(parseDurationSeconds(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('formatDurationSeconds', () => {
  it.each([
    [3600, '1h'],
    [5400, '1h30m'],
    [90, '1m30s'],
    [45, '45s'],
    [0, '0s'],
  ])('formats %d seconds as %s', (seconds, text) => {
    expect(formatDurationSeconds(seconds)).toBe(text);
    expect(parseDurationSeconds(text)).toBe(seconds);
  });
});
