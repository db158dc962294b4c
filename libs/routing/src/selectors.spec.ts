import { describe, expect, it } from 'vitest';
import { markResult } from './mark-result';
import {
  applySelectionUpdate,
  availableCredentials,
  credentialWeight,
  CURSOR_WRAP,
  cursorToAdvance,
  pickCredential,
  roundRobinPick,
  selectionStateKeys,
  smoothWeightedPick,
  type SchedulableCredential,
  type SelectionState,
  type WeightedState,
} from './selectors';
import type { RoutingStrategy } from './strategy';

const NOW = 1_700_000_000_000;
const MODEL = 'claude-x';

function cred(id: string, extra: Partial<SchedulableCredential> = {}): SchedulableCredential {
  return { id, provider: 'claude', ...extra };
}

function quotaCooling(id: string, forMs: number, extra: Partial<SchedulableCredential> = {}): SchedulableCredential {
  const state = markResult(undefined, { success: false, model: MODEL, status: 429, retryAfterMs: forMs }, NOW).state;
  return cred(id, { state, ...extra });
}

function run(
  strategy: RoutingStrategy,
  candidates: SchedulableCredential[],
  times: number,
  providers = ['claude'],
  model = MODEL,
): string[] {
  let state: SelectionState = { cursors: {}, weighted: {} };
  const picks: string[] = [];
  for (let i = 0; i < times; i++) {
    const out = pickCredential({ strategy, providers, model, candidates, now: NOW, state });
    if (!out.ok) throw new Error(out.error.code);
    picks.push(out.credential.id);
    state = applySelectionUpdate(state, out.update);
  }
  return picks;
}

function counts(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

describe('round-robin', () => {
  it('cycles deterministically through candidates sorted by id', () => {
    expect(run('round-robin', [cred('c'), cred('a'), cred('b')], 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('splits 300 picks exactly 100/100/100', () => {
    expect(counts(run('round-robin', [cred('a'), cred('b'), cred('c')], 300))).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('returns the pick and the next cursor for a given cursor value', () => {
    expect(roundRobinPick(['a', 'b', 'c'], 4)).toEqual({ pick: 'b', cursor: 5 });
    expect(roundRobinPick(['a', 'b'], undefined)).toEqual({ pick: 'a', cursor: 1 });
  });

  it('wraps the cursor before it overflows', () => {
    expect(roundRobinPick(['a', 'b'], CURSOR_WRAP)).toEqual({ pick: 'a', cursor: 1 });
  });

  it('keeps one cursor per provider and base model, shared by thinking-suffix variants', () => {
    const candidates = [cred('a'), cred('b')];
    let state: SelectionState = { cursors: {}, weighted: {} };
    const first = pickCredential({
      strategy: 'round-robin',
      providers: ['claude'],
      model: 'claude-x(high)',
      candidates,
      now: NOW,
      state,
    });
    if (!first.ok) throw new Error('pick failed');
    expect(first.update.cursors).toEqual({ 'claude:claude-x': 1 });
    state = applySelectionUpdate(state, first.update);
    const second = pickCredential({
      strategy: 'round-robin',
      providers: ['claude'],
      model: 'claude-x',
      candidates,
      now: NOW,
      state,
    });
    expect(second.ok && second.credential.id).toBe('b');
    const other = pickCredential({
      strategy: 'round-robin',
      providers: ['claude'],
      model: 'claude-y',
      candidates,
      now: NOW,
      state,
    });
    expect(other.ok && other.credential.id).toBe('a');
  });

  it('skips credentials cooling for the model', () => {
    expect(run('round-robin', [cred('a'), quotaCooling('b', 60_000), cred('c')], 4)).toEqual(['a', 'c', 'a', 'c']);
  });
});

describe('priority buckets', () => {
  it('uses only the highest tier that has an available credential', () => {
    const candidates = [cred('low', { priority: 0 }), cred('high1', { priority: 10 }), cred('high2', { priority: 10 })];
    expect(run('round-robin', candidates, 4)).toEqual(['high1', 'high2', 'high1', 'high2']);
  });

  it('falls back to the next tier when the top tier is cooling', () => {
    const candidates = [cred('low', { priority: 0 }), quotaCooling('high', 60_000, { priority: 10 })];
    expect(run('round-robin', candidates, 2)).toEqual(['low', 'low']);
  });

  it('treats negative priorities as lower than the default', () => {
    expect(run('fill-first', [cred('neg', { priority: -1 }), cred('zero')], 1)).toEqual(['zero']);
  });
});

describe('fill-first', () => {
  it('always picks the first available credential by id', () => {
    expect(run('fill-first', [cred('b'), cred('a'), cred('c')], 3)).toEqual(['a', 'a', 'a']);
  });

  it('falls back to the next credential while the first is cooling', () => {
    expect(run('fill-first', [quotaCooling('a', 60_000), cred('b'), cred('c')], 2)).toEqual(['b', 'b']);
  });

  it('falls back across priorities under cooldown', () => {
    const candidates = [
      quotaCooling('p1', 60_000, { priority: 5 }),
      cred('p0-b', { priority: 0 }),
      cred('p0-a', { priority: 0 }),
    ];
    expect(run('fill-first', candidates, 1)).toEqual(['p0-a']);
  });
});

describe('weighted round-robin', () => {
  it('distributes weights 5:3:2 exactly 50/30/20 over 100 picks', () => {
    const candidates = [cred('a', { weight: 5 }), cred('b', { weight: 3 }), cred('c', { weight: 2 })];
    expect(counts(run('weighted-round-robin', candidates, 100))).toEqual({ a: 50, b: 30, c: 20 });
  });

  it('interleaves picks smoothly instead of bursting', () => {
    const candidates = [cred('a', { weight: 5 }), cred('b', { weight: 1 }), cred('c', { weight: 1 })];
    expect(run('weighted-round-robin', candidates, 7)).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('excludes a credential with weight 0', () => {
    const candidates = [cred('a', { weight: 0 }), cred('b'), cred('c')];
    expect(counts(run('weighted-round-robin', candidates, 10))).toEqual({ b: 5, c: 5 });
  });

  it('defaults to weight 1 and rejects invalid weights', () => {
    expect(credentialWeight({})).toBe(1);
    expect(credentialWeight({ weight: -2 })).toBe(0);
    expect(credentialWeight({ weight: 1.5 })).toBe(0);
    expect(credentialWeight({ weight: 2_000_000 })).toBe(0);
  });

  it('resets credits when the weight vector changes', () => {
    const before: WeightedState = { weights: { a: 1, b: 1 }, current: { a: -1, b: 1 } };
    const same = smoothWeightedPick([cred('a', { weight: 1 }), cred('b', { weight: 1 })], before);
    expect(same?.pick.id).toBe('b');
    const changed = smoothWeightedPick([cred('a', { weight: 2 }), cred('b', { weight: 1 })], before);
    expect(changed?.pick.id).toBe('a');
    expect(changed?.state).toEqual({ weights: { a: 2, b: 1 }, current: { a: -1, b: 1 } });
  });

  it('reports unavailable when every credential has weight 0', () => {
    const out = pickCredential({
      strategy: 'weighted-round-robin',
      providers: ['claude'],
      model: MODEL,
      candidates: [cred('a', { weight: 0 })],
      now: NOW,
      state: { cursors: {}, weighted: {} },
    });
    expect(out).toEqual({ ok: false, error: { code: 'auth_not_found' } });
  });
});

describe('exhaustion errors', () => {
  it('returns model_cooldown with the earliest reset when every candidate is in a quota cooldown', () => {
    const out = availableCredentials([quotaCooling('a', 90_000), quotaCooling('b', 30_000)], 'claude', MODEL, NOW);
    expect(out).toEqual({
      ok: false,
      error: { code: 'model_cooldown', model: MODEL, provider: 'claude', resetInMs: 30_000 },
    });
  });

  it('omits the provider when several providers were eligible', () => {
    const out = availableCredentials([quotaCooling('a', 1_000)], undefined, MODEL, NOW);
    expect(out).toEqual({ ok: false, error: { code: 'model_cooldown', model: MODEL, resetInMs: 1_000 } });
  });

  it('returns auth_unavailable when some blocked candidate is not in a quota cooldown', () => {
    const unauthorized = markResult(undefined, { success: false, model: MODEL, status: 401 }, NOW).state;
    const out = availableCredentials(
      [quotaCooling('a', 1_000), cred('b', { state: unauthorized })],
      'claude',
      MODEL,
      NOW,
    );
    expect(out).toEqual({ ok: false, error: { code: 'auth_unavailable' } });
    expect(availableCredentials([cred('d', { disabled: true })], 'claude', MODEL, NOW)).toEqual({
      ok: false,
      error: { code: 'auth_unavailable' },
    });
  });

  it('returns auth_not_found without candidates', () => {
    expect(availableCredentials([], 'claude', MODEL, NOW)).toEqual({ ok: false, error: { code: 'auth_not_found' } });
  });
});

describe('multi-provider rotation', () => {
  const mixed = [
    cred('c1', { provider: 'claude' }),
    cred('c2', { provider: 'claude' }),
    cred('g1', { provider: 'gemini' }),
  ];

  it('spans every provider, sharing slots by ready credentials', () => {
    expect(run('round-robin', mixed, 6, ['claude', 'gemini'])).toEqual(['c1', 'c2', 'g1', 'c1', 'c2', 'g1']);
  });

  it('rotates the starting provider per model', () => {
    const picks = run('round-robin', [cred('c1', { provider: 'claude' }), cred('g1', { provider: 'gemini' })], 4, [
      'claude',
      'gemini',
    ]);
    expect(picks).toEqual(['c1', 'g1', 'c1', 'g1']);
  });

  it('honours the best priority across providers', () => {
    const candidates = [cred('c1', { provider: 'claude' }), cred('g1', { provider: 'gemini', priority: 3 })];
    expect(run('round-robin', candidates, 3, ['claude', 'gemini'])).toEqual(['g1', 'g1', 'g1']);
  });

  it('fill-first takes the first provider in request order', () => {
    expect(run('fill-first', mixed, 2, ['gemini', 'claude'])).toEqual(['g1', 'g1']);
  });

  it('weighted round-robin runs over the union of providers', () => {
    const candidates = [cred('c1', { provider: 'claude', weight: 3 }), cred('g1', { provider: 'gemini', weight: 1 })];
    expect(counts(run('weighted-round-robin', candidates, 40, ['claude', 'gemini']))).toEqual({ c1: 30, g1: 10 });
  });

  it('reports which provider served the pick', () => {
    const out = pickCredential({
      strategy: 'round-robin',
      providers: ['Claude', 'gemini'],
      model: MODEL,
      candidates: mixed,
      now: NOW,
      state: { cursors: { 'claude,gemini:claude-x': 2 }, weighted: {} },
    });
    expect(out.ok && [out.credential.id, out.provider]).toEqual(['g1', 'gemini']);
  });

  it('returns a cooldown error without provider when all providers are cooling', () => {
    const out = pickCredential({
      strategy: 'round-robin',
      providers: ['claude', 'gemini'],
      model: MODEL,
      candidates: [quotaCooling('c1', 5_000), quotaCooling('g1', 2_000, { provider: 'gemini' })],
      now: NOW,
      state: { cursors: {}, weighted: {} },
    });
    expect(out).toEqual({ ok: false, error: { code: 'model_cooldown', model: MODEL, resetInMs: 2_000 } });
  });

  it('ignores candidates of providers that are not eligible', () => {
    expect(run('round-robin', mixed, 2, ['gemini'])).toEqual(['g1', 'g1']);
  });
});

describe('selectionStateKeys', () => {
  it('names the keys each strategy reads', () => {
    expect(selectionStateKeys('round-robin', ['claude'], 'm(high)')).toEqual({ cursors: ['claude:m'], weighted: [] });
    expect(selectionStateKeys('round-robin', ['claude', 'gemini'], 'm')).toEqual({
      cursors: ['claude,gemini:m', 'claude:m', 'gemini:m'],
      weighted: [],
    });
    expect(selectionStateKeys('weighted-round-robin', ['claude'], 'm')).toEqual({
      cursors: [],
      weighted: ['claude:m'],
    });
    expect(selectionStateKeys('fill-first', ['claude'], 'm')).toEqual({ cursors: [], weighted: [] });
  });
});

describe('cursorToAdvance', () => {
  const update = (cursors: Record<string, number>) => ({ cursors, weighted: {} });

  it('names the first cursor in order that the pick moved and the store has not advanced yet', () => {
    expect(cursorToAdvance(['mixed', 'claude', 'gemini'], update({ gemini: 1, claude: 4 }), new Set(['mixed']))).toBe(
      'claude',
    );
    expect(
      cursorToAdvance(['mixed', 'claude', 'gemini'], update({ gemini: 1, claude: 4 }), new Set(['mixed', 'claude'])),
    ).toBe('gemini');
  });

  it('is undefined once every moved cursor was advanced, or when the pick moved none', () => {
    expect(
      cursorToAdvance(['mixed', 'claude'], update({ mixed: 2, claude: 4 }), new Set(['mixed', 'claude'])),
    ).toBeUndefined();
    expect(cursorToAdvance(['claude'], update({}), new Set())).toBeUndefined();
  });
});
