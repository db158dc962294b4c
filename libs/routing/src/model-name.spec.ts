import { describe, expect, it } from 'vitest';
import {
  applyModelPrefix,
  applyOAuthAliasesToCatalog,
  canonicalModelKey,
  isModelExcluded,
  matchWildcard,
  parseRequestedModel,
  parseThinkingSuffix,
  preserveSuffix,
  resolveAliasPool,
  resolveOAuthAlias,
  stripCredentialPrefix,
} from './model-name';

describe('parseThinkingSuffix', () => {
  it('splits a numeric budget suffix', () => {
    expect(parseThinkingSuffix('claude-sonnet-4-5(16384)')).toEqual({
      modelName: 'claude-sonnet-4-5',
      hasSuffix: true,
      rawSuffix: '16384',
    });
  });
  it('splits a level suffix', () => {
    expect(parseThinkingSuffix('gemini-2.5-pro(high)')).toEqual({
      modelName: 'gemini-2.5-pro',
      hasSuffix: true,
      rawSuffix: 'high',
    });
  });
  it('uses the last opening parenthesis', () => {
    expect(parseThinkingSuffix('m(a)(b)')).toEqual({ modelName: 'm(a)', hasSuffix: true, rawSuffix: 'b' });
  });
  it('ignores parentheses that do not close the name', () => {
    expect(parseThinkingSuffix('m(a)x')).toEqual({ modelName: 'm(a)x', hasSuffix: false, rawSuffix: '' });
    expect(parseThinkingSuffix('gpt-5')).toEqual({ modelName: 'gpt-5', hasSuffix: false, rawSuffix: '' });
  });
  it('accepts an empty suffix', () => {
    expect(parseThinkingSuffix('m()')).toEqual({ modelName: 'm', hasSuffix: true, rawSuffix: '' });
  });
});

describe('canonicalModelKey', () => {
  it('routes suffixed names as their base model', () => {
    expect(canonicalModelKey(' claude-sonnet-4-5(16384) ')).toBe('claude-sonnet-4-5');
    expect(canonicalModelKey('gemini-2.5-pro(high)')).toBe('gemini-2.5-pro');
  });
  it('keeps a name that is only a suffix', () => {
    expect(canonicalModelKey('(high)')).toBe('(high)');
  });
  it('is empty for blank input', () => {
    expect(canonicalModelKey('  ')).toBe('');
  });
});

describe('parseRequestedModel', () => {
  it('finds prefix, base model and suffix', () => {
    expect(parseRequestedModel('teamA/claude-x(high)')).toEqual({
      requested: 'teamA/claude-x(high)',
      prefix: 'teamA',
      unprefixed: 'claude-x(high)',
      baseModel: 'claude-x',
      thinkingSuffix: 'high',
    });
  });
  it('has no prefix or suffix for a plain name', () => {
    expect(parseRequestedModel('gpt-5')).toEqual({ requested: 'gpt-5', unprefixed: 'gpt-5', baseModel: 'gpt-5' });
  });
});

describe('stripCredentialPrefix', () => {
  it('removes the credential prefix', () => {
    expect(stripCredentialPrefix('teamA/claude-x', 'teamA')).toBe('claude-x');
  });
  it('leaves other prefixes and unprefixed names alone', () => {
    expect(stripCredentialPrefix('teamB/claude-x', 'teamA')).toBe('teamB/claude-x');
    expect(stripCredentialPrefix('claude-x', 'teamA')).toBe('claude-x');
    expect(stripCredentialPrefix('teamA/claude-x', undefined)).toBe('teamA/claude-x');
  });
});

describe('preserveSuffix', () => {
  it('carries the client suffix to the upstream name', () => {
    expect(preserveSuffix('gemini-2.5-pro', parseThinkingSuffix('g(8192)'))).toBe('gemini-2.5-pro(8192)');
  });
  it('lets a configured suffix win', () => {
    expect(preserveSuffix('gemini-2.5-pro(low)', parseThinkingSuffix('g(8192)'))).toBe('gemini-2.5-pro(low)');
  });
});

describe('matchWildcard and excluded models', () => {
  it.each([
    ['gpt-5', 'gpt-5', true],
    ['gpt-5', 'gpt-5-mini', false],
    ['gpt-*', 'gpt-5-mini', true],
    ['*-mini', 'gpt-5-mini', true],
    ['*-mini', 'gpt-5', false],
    ['*flash*', 'gemini-2.5-flash-lite', true],
    ['*flash*', 'gemini-2.5-pro', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxcyyb', false],
    ['*', 'anything', true],
    ['', 'x', false],
  ])('%s matches %s: %s', (pattern, value, expected) => {
    expect(matchWildcard(pattern, value)).toBe(expected);
  });

  it('matches excluded models case-insensitively and ignores blanks', () => {
    expect(isModelExcluded('Gemini-2.5-Flash', [' ', 'gemini-*-flash'])).toBe(true);
    expect(isModelExcluded('gemini-2.5-pro', ['gemini-*-flash'])).toBe(false);
    expect(isModelExcluded('x', undefined)).toBe(false);
  });
});

describe('resolveAliasPool (API-key models)', () => {
  const models = [
    { name: 'claude-sonnet-4-5-20250929', alias: 'sonnet' },
    { name: 'upstream-a', alias: 'pool' },
    { name: 'upstream-b', alias: 'POOL' },
    { name: 'plain-model' },
  ];
  it('maps an alias to its upstream name, case-insensitively', () => {
    expect(resolveAliasPool('Sonnet', models)).toEqual(['claude-sonnet-4-5-20250929']);
  });
  it('keeps the thinking suffix of the request', () => {
    expect(resolveAliasPool('sonnet(16384)', models)).toEqual(['claude-sonnet-4-5-20250929(16384)']);
  });
  it('returns every member of an alias pool in config order', () => {
    expect(resolveAliasPool('pool', models)).toEqual(['upstream-a', 'upstream-b']);
  });
  it('falls back to a model named like the request', () => {
    expect(resolveAliasPool('plain-model(high)', models)).toEqual(['plain-model(high)']);
  });
  it('says nothing about unknown names', () => {
    expect(resolveAliasPool('other', models)).toEqual([]);
    expect(resolveAliasPool('other', undefined)).toEqual([]);
  });
});

describe('OAuth model aliases', () => {
  const aliases = [
    { name: 'gemini-2.5-pro', alias: 'g-pro' },
    { name: 'gemini-2.5-flash', alias: 'g-flash', fork: true },
    { name: 'same', alias: 'SAME' },
  ];
  it('maps the alias back to the upstream name with the suffix', () => {
    expect(resolveOAuthAlias('g-pro(high)', aliases)).toBe('gemini-2.5-pro(high)');
    expect(resolveOAuthAlias('gemini-2.5-pro', aliases)).toBeUndefined();
    expect(resolveOAuthAlias('same', aliases)).toBeUndefined();
  });
  it('replaces catalog ids by aliases unless the alias forks', () => {
    expect(applyOAuthAliasesToCatalog(['gemini-2.5-pro', 'gemini-2.5-flash', 'other'], aliases)).toEqual([
      'g-pro',
      'gemini-2.5-flash',
      'g-flash',
      'other',
    ]);
  });
});

describe('applyModelPrefix (force-model-prefix semantics)', () => {
  it('serves prefixed and bare names without force-model-prefix', () => {
    expect(applyModelPrefix(['claude-x'], 'teamA', false)).toEqual(['claude-x', 'teamA/claude-x']);
  });
  it('serves only prefixed names with force-model-prefix', () => {
    expect(applyModelPrefix(['claude-x'], 'teamA', true)).toEqual(['teamA/claude-x']);
  });
  it('leaves unprefixed credentials unchanged', () => {
    expect(applyModelPrefix(['claude-x'], '', true)).toEqual(['claude-x']);
  });
});
