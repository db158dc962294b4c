import { describe, expect, it } from 'vitest';
import {
  candidateBlock,
  poolRotationKey,
  prepareExecutionModels,
  remainingPoolModels,
  rotatePool,
  selectCandidates,
  servedModelIds,
  supportsModel,
  upstreamModelsFor,
  usableUpstreamModels,
  type CredentialDescriptor,
} from './candidates';
import { markResult } from './mark-result';

const NOW = 1_700_000_000_000;

function cred(id: string, extra: Partial<CredentialDescriptor> = {}): CredentialDescriptor {
  return { id, provider: 'claude', ...extra };
}

const ids = (list: { credential: { id: string } }[]): string[] => list.map((c) => c.credential.id);

describe('selectCandidates', () => {
  const all = [
    cred('b', { catalog: ['claude-sonnet-4-5'] }),
    cred('a', { catalog: ['claude-sonnet-4-5'] }),
    cred('g', { provider: 'gemini', catalog: ['gemini-2.5-pro'] }),
    cred('off', { disabled: true }),
  ];

  it('keeps credentials that support the base model, sorted by id', () => {
    expect(ids(selectCandidates(all, { model: 'claude-sonnet-4-5(16384)' }))).toEqual(['a', 'b']);
    expect(ids(selectCandidates(all, { model: 'gemini-2.5-pro(high)' }))).toEqual(['g']);
  });

  it('keeps the thinking suffix for the upstream', () => {
    const [first] = selectCandidates(all, { model: 'claude-sonnet-4-5(16384)' });
    expect(first?.upstream).toEqual([{ upstreamModel: 'claude-sonnet-4-5(16384)', stateModel: 'claude-sonnet-4-5' }]);
  });

  it('drops disabled, already tried and non-pinned credentials', () => {
    expect(ids(selectCandidates(all, { model: 'anything' }))).toEqual([]);
    expect(ids(selectCandidates([cred('x'), cred('off', { disabled: true })], { model: 'm' }))).toEqual(['x']);
    expect(ids(selectCandidates(all, { model: 'claude-sonnet-4-5', triedIds: ['a'] }))).toEqual(['b']);
    expect(ids(selectCandidates(all, { model: 'claude-sonnet-4-5', pinnedId: 'b' }))).toEqual(['b']);
    expect(ids(selectCandidates(all, { model: 'claude-sonnet-4-5', pinnedId: 'g' }))).toEqual([]);
  });

  it('limits candidates to the eligible providers', () => {
    const any = [cred('c'), cred('g', { provider: 'gemini' })];
    expect(ids(selectCandidates(any, { model: 'm', providers: ['Gemini'] }))).toEqual(['g']);
  });

  it('resolves an alias per credential', () => {
    const list = [
      cred('k1', { models: [{ name: 'claude-sonnet-4-5-20250929', alias: 'sonnet' }] }),
      cred('k2', { models: [{ name: 'claude-opus-4' }] }),
    ];
    const found = selectCandidates(list, { model: 'sonnet(high)' });
    expect(ids(found)).toEqual(['k1']);
    expect(found[0]?.upstream).toEqual([{ upstreamModel: 'claude-sonnet-4-5-20250929(high)', stateModel: 'sonnet' }]);
  });
});

describe('model prefixes', () => {
  const team = cred('t', { prefix: 'teamA', catalog: ['claude-x'] });
  const plain = cred('p', { catalog: ['claude-x'] });

  it('serves "<prefix>/<model>" and strips the prefix upstream', () => {
    const found = selectCandidates([team, plain], { model: 'teamA/claude-x' });
    expect(ids(found)).toEqual(['t']);
    expect(found[0]?.upstream[0]?.upstreamModel).toBe('claude-x');
    expect(found[0]?.upstream[0]?.stateModel).toBe('claude-x');
  });

  it('lets prefixed credentials serve bare names without force-model-prefix', () => {
    expect(ids(selectCandidates([team, plain], { model: 'claude-x' }))).toEqual(['p', 't']);
  });

  it('uses only unprefixed credentials for bare names with force-model-prefix', () => {
    expect(ids(selectCandidates([team, plain], { model: 'claude-x', forceModelPrefix: true }))).toEqual(['p']);
    expect(ids(selectCandidates([team, plain], { model: 'teamA/claude-x', forceModelPrefix: true }))).toEqual(['t']);
  });

  it('applies the same rules to credentials that serve any model', () => {
    const open = cred('o', { prefix: 'teamA' });
    expect(supportsModel(open, 'teamA/whatever', true)).toBe(true);
    expect(supportsModel(open, 'whatever', true)).toBe(false);
    expect(supportsModel(open, 'whatever', false)).toBe(true);
  });
});

describe('excluded models', () => {
  it('removes excluded models (exact and wildcards) from what a credential serves', () => {
    const c = cred('x', {
      catalog: ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'imagen-3'],
      excludedModels: ['imagen-3', '*-lite', 'gemini-*-flash'],
    });
    expect(servedModelIds(c)).toEqual(['gemini-2.5-pro']);
  });

  it('applies to credentials without a model list', () => {
    const c = cred('x', { excludedModels: ['*preview*'] });
    expect(supportsModel(c, 'gemini-3-pro-preview')).toBe(false);
    expect(supportsModel(c, 'gemini-3-pro')).toBe(true);
  });

  it('applies to configured aliases, not upstream names', () => {
    const c = cred('x', { models: [{ name: 'up', alias: 'visible' }], excludedModels: ['visible'] });
    expect(servedModelIds(c)).toEqual([]);
  });
});

describe('OAuth aliases', () => {
  it('serves the alias and sends the upstream name', () => {
    const c = cred('o', { catalog: ['gemini-2.5-pro'], oauthAliases: [{ name: 'gemini-2.5-pro', alias: 'g-pro' }] });
    expect(supportsModel(c, 'g-pro')).toBe(true);
    expect(supportsModel(c, 'gemini-2.5-pro')).toBe(false);
    expect(upstreamModelsFor(c, 'g-pro(8192)').upstream[0]?.upstreamModel).toBe('gemini-2.5-pro(8192)');
  });
});

describe('alias pools', () => {
  const pool = cred('compat', {
    provider: 'openrouter',
    models: [
      { name: 'vendor/model-a', alias: 'fast' },
      { name: 'vendor/model-b', alias: 'fast' },
    ],
  });

  it('returns every upstream of a pool, keyed by its own state', () => {
    expect(upstreamModelsFor(pool, 'fast')).toEqual({
      pooled: true,
      upstream: [
        { upstreamModel: 'vendor/model-a', stateModel: 'vendor/model-a' },
        { upstreamModel: 'vendor/model-b', stateModel: 'vendor/model-b' },
      ],
    });
  });

  it('rotates the pool start', () => {
    expect(rotatePool(['a', 'b', 'c'], 4)).toEqual(['b', 'c', 'a']);
    expect(rotatePool(['a', 'b'], 0)).toEqual(['a', 'b']);
    expect(poolRotationKey(pool, 'Fast(high)')).toBe('compat|openrouter|fast');
  });

  it('skips pool members whose model is cooling', () => {
    const state = markResult(
      undefined,
      { success: false, model: 'vendor/model-a', status: 429, retryAfterMs: 10_000 },
      NOW,
    ).state;
    const [candidate] = selectCandidates([{ ...pool, state }], { model: 'fast' });
    expect(candidate && usableUpstreamModels(candidate, NOW).map((u) => u.upstreamModel)).toEqual(['vendor/model-b']);
  });

  const names = (list: { upstreamModel: string }[]) => list.map((u) => u.upstreamModel);
  const trio = cred('trio', {
    provider: 'openrouter',
    models: [
      { name: 'm-1', alias: 'fast' },
      { name: 'm-2', alias: 'fast' },
      { name: 'm-3', alias: 'fast' },
    ],
  });
  const cooling = (model: string, retryAfterMs: number, previous?: ReturnType<typeof markResult>['state']) =>
    markResult(previous, { success: false, model, status: 429, retryAfterMs }, NOW).state;

  it('starts the prepared pool at the rotation offset, wrapping around', () => {
    const [candidate] = selectCandidates([trio], { model: 'fast' });
    expect(names(prepareExecutionModels(candidate!, 0, NOW))).toEqual(['m-1', 'm-2', 'm-3']);
    expect(names(prepareExecutionModels(candidate!, 1, NOW))).toEqual(['m-2', 'm-3', 'm-1']);
    expect(names(prepareExecutionModels(candidate!, 5, NOW))).toEqual(['m-3', 'm-1', 'm-2']);
  });

  it('keeps the thinking suffix on every pool member and rotates by the base model', () => {
    const [candidate] = selectCandidates([trio], { model: 'fast(high)' });
    expect(names(prepareExecutionModels(candidate!, 1, NOW))).toEqual(['m-2(high)', 'm-3(high)', 'm-1(high)']);
    expect(prepareExecutionModels(candidate!, 1, NOW)[0]?.stateModel).toBe('m-2');
    expect(poolRotationKey(trio, 'fast(high)')).toBe(poolRotationKey(trio, 'fast'));
  });

  it('leaves cooling members out of the prepared pool after rotating, and a fully cooling pool empty', () => {
    const state = cooling('m-2', 10_000);
    const [candidate] = selectCandidates([{ ...trio, state }], { model: 'fast' });
    expect(names(prepareExecutionModels(candidate!, 1, NOW))).toEqual(['m-3', 'm-1']);
    const all = cooling('m-3', 10_000, cooling('m-1', 10_000, state));
    const [blocked] = selectCandidates([{ ...trio, state: all }], { model: 'fast' });
    expect(prepareExecutionModels(blocked!, 0, NOW)).toEqual([]);
    // Cooldowns end by themselves.
    expect(names(prepareExecutionModels(blocked!, 0, NOW + 10_001))).toEqual(['m-1', 'm-2', 'm-3']);
  });

  it('ignores the offset for a single upstream model', () => {
    const [candidate] = selectCandidates([cred('one', { models: [{ name: 'up', alias: 'fast' }] })], { model: 'fast' });
    expect(candidate!.pooled).toBe(false);
    expect(names(prepareExecutionModels(candidate!, 7, NOW))).toEqual(['up']);
  });

  it('continues a pool with the members left, in their order, skipping those that started cooling meanwhile', () => {
    const [candidate] = selectCandidates([{ ...trio, state: cooling('m-1', 10_000) }], { model: 'fast' });
    expect(names(remainingPoolModels(candidate!, ['m-3', 'm-1', 'm-2'], NOW))).toEqual(['m-3', 'm-2']);
    expect(remainingPoolModels(candidate!, [], NOW)).toEqual([]);
    // A member the catalog no longer has is not tried.
    expect(names(remainingPoolModels(candidate!, ['gone', 'm-2'], NOW))).toEqual(['m-2']);
  });

  it('blocks a pooled candidate only when every member is blocked, until the earliest member recovers', () => {
    const [partial] = selectCandidates([{ ...trio, state: cooling('m-1', 10_000) }], { model: 'fast' });
    expect(candidateBlock(partial!, NOW).blocked).toBe(false);
    const all = cooling('m-3', 30_000, cooling('m-2', 5_000, cooling('m-1', 10_000)));
    const [blocked] = selectCandidates([{ ...trio, state: all }], { model: 'fast' });
    expect(candidateBlock(blocked!, NOW)).toEqual({ blocked: true, reason: 'cooldown', next: NOW + 5_000 });
    expect(candidateBlock(blocked!, NOW + 5_001).blocked).toBe(false);
  });

  it('blocks a single-model candidate by its own model state, and a disabled one always', () => {
    const single = cred('single', { models: [{ name: 'up', alias: 'fast' }] });
    const [candidate] = selectCandidates([{ ...single, state: cooling('fast', 10_000) }], { model: 'fast' });
    expect(candidateBlock(candidate!, NOW)).toEqual({ blocked: true, reason: 'cooldown', next: NOW + 10_000 });
    const [other] = selectCandidates([{ ...single, state: cooling('else', 10_000) }], { model: 'fast' });
    expect(candidateBlock(other!, NOW).blocked).toBe(false);
    expect(
      candidateBlock(
        {
          credential: { ...single, disabled: true },
          upstream: [{ upstreamModel: 'up', stateModel: 'fast' }],
          pooled: false,
        },
        NOW,
      ),
    ).toEqual({
      blocked: true,
      reason: 'disabled',
      next: 0,
    });
  });
});
