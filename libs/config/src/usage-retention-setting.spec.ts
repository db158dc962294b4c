import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigYaml } from './config-file';
import { SettingKeys } from './settings';
import { settingsOf } from './store';

describe('usage-retention-days', () => {
  it("is a known config.yaml key that becomes the setting the admin's retention sweep reads", () => {
    const parsed = parseConfigYaml('usage-retention-days: 7');
    expect(parsed.warnings).toEqual([]);
    expect(settingsOf(parsed.config)[SettingKeys.usageRetentionDays]).toBe(7);
    expect(settingsOf(parseConfigYaml('port: 8317').config)[SettingKeys.usageRetentionDays]).toBeUndefined();
  });

  it('must be a whole number of days, 0 or more', () => {
    expect(() => parseConfigYaml('usage-retention-days: -1')).toThrow(ConfigError);
    expect(() => parseConfigYaml('usage-retention-days: 1.5')).toThrow(ConfigError);
  });
});
