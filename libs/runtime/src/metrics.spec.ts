import { describe, expect, it } from 'vitest';
import { metricsAccessAllowed, metricsToken } from './metrics-endpoint';
import { METRIC_NAMES, metrics, metricsRegistry, modelLabel, OTHER_MODEL, statusLabel } from './metrics';

describe('modelLabel', () => {
  const served = (model: string) => model === 'gpt-4o' || model === 'claude-sonnet';

  it('keeps a model the catalog serves', () => {
    expect(modelLabel('gpt-4o', served)).toBe('gpt-4o');
  });

  it('folds every other model, and a missing one, into one label', () => {
    expect(modelLabel('gpt-4o-typo', served)).toBe(OTHER_MODEL);
    expect(modelLabel('', served)).toBe(OTHER_MODEL);
    expect(modelLabel(undefined, served)).toBe(OTHER_MODEL);
  });
});

describe('statusLabel', () => {
  it('is the status for HTTP statuses and 0 for anything else', () => {
    expect([200, 429, 599, 100].map(statusLabel)).toEqual(['200', '429', '599', '100']);
    expect([undefined, 0, 99, 600, 200.5, Number.NaN].map(statusLabel)).toEqual(['0', '0', '0', '0', '0', '0']);
  });
});

describe('metricsAccessAllowed', () => {
  it('lets every scrape in when no token is configured', () => {
    expect(metricsAccessAllowed(undefined, undefined)).toBe(true);
    expect(metricsAccessAllowed('Bearer anything', undefined)).toBe(true);
  });

  it('with a token, wants exactly that bearer token', () => {
    expect(metricsAccessAllowed('Bearer s3cret-token', 's3cret-token')).toBe(true);
    expect(metricsAccessAllowed('bearer   s3cret-token ', 's3cret-token')).toBe(true);
    expect(metricsAccessAllowed(undefined, 's3cret-token')).toBe(false);
    expect(metricsAccessAllowed('Bearer s3cret-toke', 's3cret-token')).toBe(false);
    expect(metricsAccessAllowed('s3cret-token', 's3cret-token')).toBe(false);
    expect(metricsAccessAllowed('Basic czNjcmV0LXRva2Vu', 's3cret-token')).toBe(false);
  });

  it('reads METRICS_TOKEN, an empty value meaning none', () => {
    expect(metricsToken({ METRICS_TOKEN: 'abc' })).toBe('abc');
    expect(metricsToken({ METRICS_TOKEN: '' })).toBeUndefined();
    expect(metricsToken({})).toBeUndefined();
  });
});

describe('series', () => {
  it("follow Prometheus' naming: cpa_ prefix, _total counters, _seconds histograms", async () => {
    const types = new Map((await metricsRegistry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    expect(METRIC_NAMES.length).toBe(Object.keys(metrics).length);
    for (const name of METRIC_NAMES) {
      expect(name).toMatch(/^cpa_[a-z_]+[a-z]$/);
      const type = types.get(name);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else if (type === 'histogram') expect(name).toMatch(/_seconds$/);
      else expect(type).toBe('gauge');
    }
  });

  it('label no credential ids, client keys or key ids', async () => {
    const json = await metricsRegistry.getMetricsAsJSON();
    const labelNames = new Set<string>();
    for (const name of METRIC_NAMES) {
      const metric = metricsRegistry.getSingleMetric(name) as unknown as { labelNames: string[] };
      for (const label of metric.labelNames) labelNames.add(label);
    }
    expect(json.length).toBeGreaterThan(0);
    expect([...labelNames].sort()).toEqual([
      'family',
      'kind',
      'model',
      'outcome',
      'pattern',
      'queue',
      'reason',
      'route',
      'status',
      'trigger',
    ]);
  });
});
