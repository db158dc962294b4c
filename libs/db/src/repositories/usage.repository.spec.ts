import { describe, expect, it } from 'vitest';
import { aggregateUsage, utcDay } from './usage.repository';

describe('utcDay', () => {
  it('formats dates in UTC and validates strings', () => {
    expect(utcDay(new Date('2025-03-01T23:30:00-05:00'))).toBe('2025-03-02');
    expect(utcDay('2025-01-31')).toBe('2025-01-31');
    expect(() => utcDay('31/01/2025')).toThrow(TypeError);
  });
});

describe('aggregateUsage', () => {
  it('sums increments of the same row and defaults requests to 1', () => {
    const rows = aggregateUsage([
      { day: '2025-01-02', credentialId: 'c1', model: 'm', inputTokens: 10 },
      { day: '2025-01-02', credentialId: 'c1', model: 'm', outputTokens: 5, failures: 1 },
      { day: '2025-01-02', credentialId: 'c1', clientKeyId: 'k', model: 'm' },
      { day: '2025-01-01', credentialId: 'c2', model: 'm', requests: 3, cachedTokens: 2, reasoningTokens: 7 },
    ]);
    expect(rows).toEqual([
      {
        day: '2025-01-01',
        credentialId: 'c2',
        clientKeyId: '',
        model: 'm',
        requests: 3,
        failures: 0,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 2,
        reasoningTokens: 7,
      },
      {
        day: '2025-01-02',
        credentialId: 'c1',
        clientKeyId: '',
        model: 'm',
        requests: 2,
        failures: 1,
        inputTokens: 10,
        outputTokens: 5,
        cachedTokens: 0,
        reasoningTokens: 0,
      },
      {
        day: '2025-01-02',
        credentialId: 'c1',
        clientKeyId: 'k',
        model: 'm',
        requests: 1,
        failures: 0,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
      },
    ]);
  });

  it('rejects negative or fractional counts', () => {
    expect(() => aggregateUsage([{ credentialId: 'c', model: 'm', inputTokens: -1 }])).toThrow(RangeError);
    expect(() => aggregateUsage([{ credentialId: 'c', model: 'm', requests: 1.5 }])).toThrow(RangeError);
  });
});
