import { describe, expect, it } from 'vitest';
import { SCALARS, scalarSpec } from './scalars';

describe('scalar endpoints', () => {
  it('covers the routing and retry settings', () => {
    expect(SCALARS.map((s) => s.path)).toEqual([
      'request-retry',
      'max-retry-credentials',
      'max-retry-interval',
      'force-model-prefix',
      'routing/strategy',
      'routing/session-affinity',
      'routing/session-affinity-ttl',
      'proxy-url',
    ]);
  });

  it('validates values', () => {
    expect(scalarSpec('request-retry')!.input.safeParse(-1).success).toBe(false);
    expect(scalarSpec('request-retry')!.input.safeParse(2).success).toBe(true);
    expect(scalarSpec('routing/strategy')!.input.parse('fill-first')).toBe('fill-first');
    expect(scalarSpec('routing/strategy')!.input.safeParse('random').success).toBe(false);
    expect(scalarSpec('max-retry-interval')!.input.parse('2m')).toBe(120);
    expect(scalarSpec('routing/session-affinity-ttl')!.input.parse('1h')).toBe(3600);
    expect(scalarSpec('routing/session-affinity-ttl')!.input.safeParse('0s').success).toBe(false);
    expect(scalarSpec('force-model-prefix')!.input.safeParse('yes').success).toBe(false);
    expect(scalarSpec('proxy-url')!.input.parse(' socks5://127.0.0.1:1080 ')).toBe('socks5://127.0.0.1:1080');
    expect(scalarSpec('proxy-url')!.input.parse('direct')).toBe('direct');
    expect(scalarSpec('proxy-url')!.input.parse('')).toBe('');
    expect(scalarSpec('proxy-url')!.input.safeParse('ftp://proxy:21').success).toBe(false);
    expect(scalarSpec('proxy-url')!.input.safeParse(8080).success).toBe(false);
  });

  it('shows the session affinity TTL as a duration', () => {
    expect(scalarSpec('routing/session-affinity-ttl')!.show!(5400)).toBe('1h30m');
  });
});
