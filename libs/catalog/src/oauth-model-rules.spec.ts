import { describe, expect, it } from 'vitest';
import { snapshotOf } from './catalog';
import type { CredentialInfo } from './catalog.types';
import { FAMILY_DEFAULT_MODELS } from './family-models';
import { ModelRegistry, modelsServedBy, oauthModelRulesFrom, type OAuthModelRules } from './model-registry';
import { testCredential } from './test-credential';

const credential = (over: Partial<CredentialInfo>) => testCredential('c1', { kind: 'oauth', ...over });
const rules = (over: Partial<OAuthModelRules>): OAuthModelRules => ({ aliases: {}, excluded: {}, ...over });
const ids = (c: CredentialInfo, r: OAuthModelRules) => modelsServedBy(c, r).map((m) => [m.id, m.upstreamModel]);

const [SONNET, HAIKU] = ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001'];
const claudeDefaults = FAMILY_DEFAULT_MODELS.claude;

describe('oauth-model-alias', () => {
  it('lists a model under its alias only, and sends the upstream name', () => {
    const served = ids(credential({}), rules({ aliases: { claude: [{ name: SONNET, alias: 'sonnet' }] } }));
    expect(served).toContainEqual(['sonnet', SONNET]);
    expect(served.map(([id]) => id)).not.toContain(SONNET);
    expect(served).toHaveLength(claudeDefaults.length);
  });

  it('keeps the original name too when the entry forks', () => {
    const served = ids(credential({}), rules({ aliases: { claude: [{ name: SONNET, alias: 'sonnet', fork: true }] } }));
    expect(served).toContainEqual(['sonnet', SONNET]);
    expect(served).toContainEqual([SONNET, SONNET]);
    expect(served).toHaveLength(claudeDefaults.length + 1);
  });

  it('lists several aliases of one model', () => {
    const served = ids(
      credential({}),
      rules({
        aliases: {
          claude: [
            { name: SONNET, alias: 's1' },
            { name: SONNET, alias: 's2' },
          ],
        },
      }),
    );
    expect(served).toEqual(
      expect.arrayContaining([
        ['s1', SONNET],
        ['s2', SONNET],
      ]),
    );
    expect(served.map(([id]) => id)).not.toContain(SONNET);
  });

  it('matches the channel of the credential only, and only OAuth credentials', () => {
    const r = rules({ aliases: { codex: [{ name: SONNET, alias: 'sonnet' }] } });
    expect(ids(credential({}), r).map(([id]) => id)).toContain(SONNET);
    const claudeRules = rules({ aliases: { claude: [{ name: SONNET, alias: 'sonnet' }] } });
    expect(ids(credential({ kind: 'api_key' }), claudeRules).map(([id]) => id)).not.toContain('sonnet');
  });

  it('serves the alias through the registry, with the credential prefix', () => {
    const r = rules({ aliases: { claude: [{ name: SONNET, alias: 'sonnet' }] } });
    const registry = new ModelRegistry([credential({ prefix: 'team' })], false, r);
    expect(registry.lookup('sonnet')).toEqual([
      { id: 'sonnet', upstreamModel: SONNET, credentialId: 'c1', provider: 'claude' },
    ]);
    expect(registry.lookup('team/sonnet')).toHaveLength(1);
    expect(registry.lookup(SONNET)).toHaveLength(0);
  });
});

describe('oauth-excluded-models', () => {
  it('hides the channel models of every OAuth credential of the channel, with wildcards', () => {
    const served = ids(credential({}), rules({ excluded: { claude: ['*haiku*', SONNET] } })).map(([id]) => id);
    expect(served).not.toContain(HAIKU);
    expect(served).not.toContain(SONNET);
    expect(served).toHaveLength(claudeDefaults.length - 2);
  });

  it('adds to the credential own excluded models, and leaves API-key credentials alone', () => {
    const c = credential({ excludedModels: [SONNET] });
    expect(ids(c, rules({ excluded: { claude: ['*haiku*'] } })).map(([id]) => id)).not.toEqual(
      expect.arrayContaining([SONNET]),
    );
    expect(ids(credential({ kind: 'api_key' }), rules({ excluded: { claude: ['*'] } }))).toHaveLength(
      claudeDefaults.length,
    );
  });

  it('applies before aliasing, on upstream names (CLIProxyAPI order)', () => {
    const served = ids(
      credential({}),
      rules({ excluded: { claude: [SONNET] }, aliases: { claude: [{ name: SONNET, alias: 'sonnet', fork: true }] } }),
    );
    expect(served.map(([id]) => id)).not.toContain('sonnet');
  });
});

describe('rules from settings', () => {
  it('reads and cleans the two settings; garbage reads as no rules', () => {
    expect(
      oauthModelRulesFrom({
        'oauth-model-alias': {
          ' Claude ': [
            { name: SONNET, alias: 'sonnet' },
            { name: 'x', alias: 'X' },
          ],
          codex: 'nope',
        },
        'oauth-excluded-models': { CODEX: [' GPT-5 ', 'gpt-5'] },
      }),
    ).toEqual({ aliases: { claude: [{ name: SONNET, alias: 'sonnet' }] }, excluded: { codex: ['gpt-5'] } });
    expect(oauthModelRulesFrom({ 'oauth-model-alias': 'x', 'oauth-excluded-models': [1] })).toEqual({
      aliases: {},
      excluded: {},
    });
  });

  it('is applied by the catalog snapshot', () => {
    const snapshot = snapshotOf([credential({})], {
      'oauth-model-alias': { claude: [{ name: SONNET, alias: 'sonnet' }] },
      'oauth-excluded-models': { claude: [HAIKU] },
    });
    expect(snapshot.registry.lookup('sonnet')).toHaveLength(1);
    expect(snapshot.registry.lookup(HAIKU)).toHaveLength(0);
  });
});
