import { describe, expect, it } from 'vitest';
import { errorMessage, formatMs, fromLocalInput, relativeTime } from './format';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe('relativeTime', () => {
  it.each([
    [at(42_000), 'in 42s'],
    [at(4 * 60_000 + 10_000), 'in 4m 10s'],
    [at(-3 * 3600_000), '3h 0m ago'],
    [at(2 * 86_400_000 + 5 * 3600_000), 'in 2d 5h'],
  ])('%s -> %s', (iso, text) => {
    expect(relativeTime(iso, NOW)).toBe(text);
  });

  it('shows a dash for nothing and the text for what is not a date', () => {
    expect(relativeTime(null, NOW)).toBe('—');
    expect(relativeTime('soon', NOW)).toBe('soon');
  });
});

describe('formatMs', () => {
  it('rounds milliseconds and switches to seconds from 10 s', () => {
    expect(formatMs(134.6)).toBe('135 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
    expect(formatMs(null)).toBe('—');
  });
});

describe('errorMessage', () => {
  it.each([
    ['{"error":{"message":"Rate limit reached","type":"requests"}}', 'Rate limit reached'],
    ['{"error":"invalid_grant"}', 'invalid_grant'],
    ['{"message":"overloaded"}', 'overloaded'],
    ['{"error":null}', '{"error":null}'],
    ['connection reset by peer', 'connection reset by peer'],
  ])('%s -> %s', (text, message) => {
    expect(errorMessage(text)).toBe(message);
  });
});

describe('fromLocalInput', () => {
  it('gives an ISO time for a datetime-local value and nothing for an empty one', () => {
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('garbage')).toBeUndefined();
    expect(fromLocalInput('2026-11-30T10:15')).toBe(new Date('2026-11-30T10:15').toISOString());
  });
});
