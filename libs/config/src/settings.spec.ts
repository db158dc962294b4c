import { describe, expect, it } from 'vitest';
import { parseConfigYaml } from './config-file';
import { DEFAULT_SETTINGS, readRuntimeSettings, SettingKeys } from './settings';
import { settingsOf } from './store';

describe('readRuntimeSettings', () => {
  it('falls back to CLIProxyAPI defaults', () => {
    expect(readRuntimeSettings([])).toEqual(DEFAULT_SETTINGS);
    expect(DEFAULT_SETTINGS).toMatchObject({
      requestRetry: 3,
      maxRetryIntervalSeconds: 30,
      sessionAffinityTtlSeconds: 3600,
      routingStrategy: 'round-robin',
    });
  });

  it('reads the settings a config file writes', () => {
    const config = parseConfigYaml(
      'routing:\n  strategy: fill-first\n  session-affinity: true\n  session-affinity-ttl: 10m\nrequest-retry: 1\nmax-retry-interval: 5s\nmax-retry-credentials: 4\nforce-model-prefix: true\ndisable-cooling: true\ntransient-error-cooldown-seconds: 15',
    ).config;
    const rows = Object.entries(settingsOf(config))
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => ({ key, value }));
    expect(readRuntimeSettings(rows)).toEqual({
      routingStrategy: 'fill-first',
      sessionAffinity: true,
      sessionAffinityTtlSeconds: 600,
      requestRetry: 1,
      maxRetryIntervalSeconds: 5,
      maxRetryCredentials: 4,
      forceModelPrefix: true,
      disableCooling: true,
      transientErrorCooldownSeconds: 15,
    });
  });

  it('stores the global proxy-url; an empty one is no setting', () => {
    expect(
      settingsOf(parseConfigYaml('proxy-url: socks5://user:pass@127.0.0.1:1080').config)[SettingKeys.proxyUrl],
    ).toBe('socks5://user:pass@127.0.0.1:1080');
    expect(settingsOf(parseConfigYaml('proxy-url: direct').config)[SettingKeys.proxyUrl]).toBe('direct');
    expect(settingsOf(parseConfigYaml('proxy-url: ""').config)[SettingKeys.proxyUrl]).toBeUndefined();
    expect(() => parseConfigYaml('proxy-url: ftp://user:hunter2@proxy:21')).toThrow(
      /proxy-url: invalid proxy URL: unsupported scheme ftp:/,
    );
    expect(() => parseConfigYaml('claude-api-key:\n  - api-key: k\n    proxy-url: socks4://proxy:1080')).toThrow(
      /claude-api-key\[0\]\.proxy-url/,
    );
    expect(() => parseConfigYaml('proxy-url: ftp://user:hunter2@proxy:21')).not.toThrow(/hunter2/);
  });

  it('ignores values of the wrong type', () => {
    expect(
      readRuntimeSettings([
        { key: SettingKeys.requestRetry, value: 'three' },
        { key: SettingKeys.routingStrategy, value: 'random' },
      ]),
    ).toEqual(DEFAULT_SETTINGS);
  });
});
