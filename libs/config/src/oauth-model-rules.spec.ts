import { describe, expect, it } from 'vitest';
import { parseConfigYaml } from './config-file';
import { normalizeExcludedModels, normalizeOAuthExcludedModels, sanitizeOAuthModelAlias } from './oauth-model-rules';
import { settingsOf } from './store';

describe('sanitizeOAuthModelAlias', () => {
  it('lower-cases channels, trims, drops empty and self aliases, keeps one entry per alias', () => {
    expect(
      sanitizeOAuthModelAlias({
        ' Gemini-CLI ': [
          { name: ' gemini-2.5-pro ', alias: ' g-pro ', fork: true },
          { name: 'gemini-2.5-flash', alias: 'G-PRO' },
          { name: 'gemini-2.5-flash', alias: 'gemini-2.5-FLASH' },
          { name: '', alias: 'x' },
          { name: 'gemini-2.5-flash', alias: 'flash', fork: false },
        ],
        codex: [],
        '': [{ name: 'a', alias: 'b' }],
      }),
    ).toEqual({
      'gemini-cli': [
        { name: 'gemini-2.5-pro', alias: 'g-pro', fork: true },
        { name: 'gemini-2.5-flash', alias: 'flash' },
      ],
    });
  });

  it('returns undefined when nothing is left', () => {
    expect(sanitizeOAuthModelAlias({ claude: [{ name: 'a', alias: 'A' }] })).toBeUndefined();
    expect(sanitizeOAuthModelAlias(undefined)).toBeUndefined();
  });
});

describe('normalizeOAuthExcludedModels', () => {
  it('lower-cases channels and patterns, deduplicates, drops empty channels', () => {
    expect(
      normalizeOAuthExcludedModels({ Claude: [' Claude-3-* ', 'claude-3-*', ''], codex: [' '], ' ': ['x'] }),
    ).toEqual({ claude: ['claude-3-*'] });
    expect(normalizeOAuthExcludedModels({})).toBeUndefined();
    expect(normalizeExcludedModels(['B', 'a', 'b'])).toEqual(['b', 'a']);
  });
});

describe('config.yaml keys', () => {
  it('imports oauth-model-alias, oauth-excluded-models and auth-dir without warnings', () => {
    const parsed = parseConfigYaml(`
auth-dir: ~/.cli-proxy-api
oauth-model-alias:
  gemini-cli:
    - { name: gemini-2.5-pro, alias: g-pro, fork: true }
  claude:
    - { name: claude-sonnet-4-5-20250929, alias: sonnet }
oauth-excluded-models:
  Codex: [gpt-5-codex-mini, "gpt-4*"]
`);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.config['auth-dir']).toBe('~/.cli-proxy-api');
    const settings = settingsOf(parsed.config);
    expect(settings['oauth-model-alias']).toEqual({
      'gemini-cli': [{ name: 'gemini-2.5-pro', alias: 'g-pro', fork: true }],
      claude: [{ name: 'claude-sonnet-4-5-20250929', alias: 'sonnet' }],
    });
    expect(settings['oauth-excluded-models']).toEqual({ codex: ['gpt-5-codex-mini', 'gpt-4*'] });
  });

  it('refuses an alias entry of the wrong shape', () => {
    expect(() => parseConfigYaml('oauth-model-alias:\n  claude: [{ name: 1, alias: x }]\n')).toThrow(
      /oauth-model-alias\.claude\[0\]\.name/,
    );
  });
});
