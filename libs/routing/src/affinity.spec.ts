import { describe, expect, it } from 'vitest';
import {
  affinityAfterResult,
  affinityScope,
  applyBind,
  applyCompareAndDelete,
  bindingKey,
  bindingKeys,
  bindingsOfCredential,
  bindModeAfterPick,
  decideAffinity,
  sessionBindingKeys,
} from './affinity';
import { markResult } from './mark-result';
import {
  applySelectionUpdate,
  availableCredentials,
  highestPriorityTier,
  pickCredential,
  type SchedulableCredential,
  type SelectionState,
} from './selectors';
import type { SessionIds } from './session-id';

const NOW = 1_700_000_000_000;

/** A session-affinity selector built from the pure pieces, holding its store in memory. */
function affinityRouter(candidates: SchedulableCredential[]) {
  let bindings: Record<string, string> = {};
  let selection: SelectionState = { cursors: {}, weighted: {} };
  const creds = candidates;
  return {
    creds,
    get bindings() {
      return bindings;
    },
    set bindings(value: Record<string, string>) {
      bindings = value;
    },
    pick(provider: string, ids: SessionIds, model: string, now = NOW): string {
      const scoped = creds.filter((c) => c.provider === provider);
      const availability = availableCredentials(scoped, provider, model, now, true);
      if (!availability.ok) throw new Error(availability.error.code);
      const keys = bindingKeys(provider, ids, model);
      const decision = decideAffinity({
        keys,
        bound: { primary: bindings[keys.primary], ...(keys.fallback ? { fallback: bindings[keys.fallback] } : {}) },
        availableIds: availability.available.map((c) => c.id),
      });
      let chosen: string;
      if (decision.kind === 'hit') {
        chosen = decision.credentialId;
      } else {
        const out = pickCredential({
          strategy: 'round-robin',
          providers: [provider],
          model,
          candidates: highestPriorityTier(availability.available),
          now,
          state: selection,
        });
        if (!out.ok) throw new Error(out.error.code);
        selection = applySelectionUpdate(selection, out.update);
        chosen = out.credential.id;
      }
      bindings = applyBind(bindings, decision.bind, chosen);
      return chosen;
    },
  };
}

function cred(id: string, extra: Partial<SchedulableCredential> = {}): SchedulableCredential {
  return { id, provider: 'claude', ...extra };
}

function cool(c: SchedulableCredential, model: string, status = 429): void {
  c.state = markResult(c.state, { success: false, model, status, retryAfterMs: 60_000 }, NOW).state;
}

describe('binding keys', () => {
  it('are provider::session::base-model', () => {
    expect(bindingKey('claude', 'claude:s1', 'claude-x(high)')).toBe('claude::claude:s1::claude-x');
    expect(bindingKeys('claude', { primary: 'p', fallback: 'f' }, 'm')).toEqual({
      primary: 'claude::p::m',
      fallback: 'claude::f::m',
    });
    expect(bindingKeys('claude', { primary: 'p', fallback: 'p' }, 'm')).toEqual({ primary: 'claude::p::m' });
  });

  it('scope several providers as mixed', () => {
    expect(affinityScope(['claude'])).toBe('claude');
    expect(affinityScope(['claude', 'gemini'])).toBe('mixed');
  });
});

describe('session affinity decisions', () => {
  it('sends the same session to the same credential', () => {
    const router = affinityRouter([cred('a'), cred('b'), cred('c')]);
    const first = router.pick('claude', { primary: 'header:s1' }, 'claude-x');
    for (let i = 0; i < 20; i++) expect(router.pick('claude', { primary: 'header:s1' }, 'claude-x')).toBe(first);
  });

  it('spreads different sessions through the strategy', () => {
    const router = affinityRouter([cred('a'), cred('b'), cred('c')]);
    const picks = ['s1', 's2', 's3'].map((s) => router.pick('claude', { primary: `header:${s}` }, 'claude-x'));
    expect(picks).toEqual(['a', 'b', 'c']);
  });

  it('rebinds when the bound credential becomes unavailable', () => {
    const router = affinityRouter([cred('a'), cred('b')]);
    expect(router.pick('claude', { primary: 's' }, 'claude-x')).toBe('a');
    cool(router.creds[0] as SchedulableCredential, 'claude-x');
    expect(router.pick('claude', { primary: 's' }, 'claude-x')).toBe('b');
    expect(router.bindings['claude::s::claude-x']).toBe('b');
  });

  it('keeps a binding when a higher-priority credential recovers', () => {
    const high = cred('high', { priority: 10 });
    const router = affinityRouter([high, cred('low')]);
    cool(high, 'claude-x');
    expect(router.pick('claude', { primary: 's' }, 'claude-x')).toBe('low');
    const recovered = NOW + 61_000;
    expect(router.pick('claude', { primary: 's' }, 'claude-x', recovered)).toBe('low');
    expect(router.pick('claude', { primary: 'new-session' }, 'claude-x', recovered)).toBe('high');
  });

  it('lets turn two inherit the binding of turn one through the fallback id', () => {
    const router = affinityRouter([cred('a'), cred('b'), cred('c')]);
    router.pick('claude', { primary: 'other' }, 'claude-x');
    const turn1 = router.pick('claude', { primary: 'msg:short' }, 'claude-x');
    expect(turn1).toBe('b');
    const turn2 = router.pick('claude', { primary: 'msg:full', fallback: 'msg:short' }, 'claude-x');
    expect(turn2).toBe(turn1);
    expect(router.bindings['claude::msg:full::claude-x']).toBe('b');
  });

  it('does not inherit a fallback binding to an unavailable credential', () => {
    const decision = decideAffinity({
      keys: { primary: 'p', fallback: 'f' },
      bound: { fallback: 'gone' },
      availableIds: ['a'],
    });
    expect(decision).toEqual({ kind: 'pick', reason: 'miss', bind: ['p', 'f'] });
  });

  it('keeps one binding per model in multi-model sessions', () => {
    const router = affinityRouter([cred('a', { provider: 'gemini' }), cred('b', { provider: 'gemini' })]);
    const pro = router.pick('gemini', { primary: 's' }, 'gemini-2.5-pro');
    const flash = router.pick('gemini', { primary: 's' }, 'gemini-3-flash-preview');
    expect(router.bindings).toEqual({ 'gemini::s::gemini-2.5-pro': pro, 'gemini::s::gemini-3-flash-preview': flash });
    cool(router.creds.find((c) => c.id === pro) as SchedulableCredential, 'gemini-2.5-pro');
    expect(router.pick('gemini', { primary: 's' }, 'gemini-3-flash-preview')).toBe(flash);
  });

  it('isolates providers: one session binds separately per provider', () => {
    const router = affinityRouter([cred('c1'), cred('g1', { provider: 'gemini' })]);
    expect(router.pick('claude', { primary: 's' }, 'm')).toBe('c1');
    expect(router.pick('gemini', { primary: 's' }, 'm')).toBe('g1');
    expect(Object.keys(router.bindings).sort()).toEqual(['claude::s::m', 'gemini::s::m']);
  });

  it('shares a binding across thinking-suffix variants', () => {
    const router = affinityRouter([cred('a'), cred('b')]);
    router.pick('claude', { primary: 'x' }, 'other');
    const bound = router.pick('claude', { primary: 's' }, 'claude-x(16384)');
    expect(router.pick('claude', { primary: 's' }, 'claude-x(high)')).toBe(bound);
  });
});

describe('binding cleanup', () => {
  it('refreshes both keys after a success', () => {
    expect(affinityAfterResult({ primary: 'p', fallback: 'f' }, 'a', { success: true })).toEqual({
      touch: ['p', 'f'],
      remove: [],
    });
  });

  it('compare-and-deletes after a failure without removing a binding that moved', () => {
    const plan = affinityAfterResult({ primary: 'p', fallback: 'f' }, 'a', { success: false });
    expect(plan.remove).toEqual([
      { key: 'p', expected: 'a' },
      { key: 'f', expected: 'a' },
    ]);
    expect(applyCompareAndDelete({ p: 'a', f: 'b', other: 'a' }, plan.remove)).toEqual({ f: 'b', other: 'a' });
  });

  it('keeps bindings after request-shaped failures', () => {
    expect(affinityAfterResult({ primary: 'p' }, 'a', { success: false, requestInvalid: true })).toEqual({
      touch: [],
      remove: [],
    });
  });

  it('finds every binding of a credential that became unavailable', () => {
    const bindings = { k1: 'a', k2: 'b', k3: 'a' };
    const ops = bindingsOfCredential(bindings, 'a');
    expect(ops).toEqual([
      { key: 'k1', expected: 'a' },
      { key: 'k3', expected: 'a' },
    ]);
    expect(applyCompareAndDelete({ ...bindings, k3: 'c' }, ops)).toEqual({ k2: 'b', k3: 'c' });
  });
});

describe('sessionBindingKeys', () => {
  it("keys the session's ids by provider scope and base model", () => {
    expect(sessionBindingKeys(['header:s1', 'first:abc'], ['claude'], 'claude-x(8192)')).toEqual({
      primary: 'claude::header:s1::claude-x',
      fallback: 'claude::first:abc::claude-x',
    });
    expect(sessionBindingKeys(['header:s1'], ['claude', 'gemini'], 'm')).toEqual({ primary: 'mixed::header:s1::m' });
  });

  it('is undefined for a request without a session id', () => {
    expect(sessionBindingKeys([], ['claude'], 'm')).toBeUndefined();
    expect(sessionBindingKeys([''], ['claude'], 'm')).toBeUndefined();
  });
});

describe('bindModeAfterPick', () => {
  it('replaces a moved binding only while it still names the old credential, else binds only if absent', () => {
    expect(bindModeAfterPick({ kind: 'pick', reason: 'rebind', previous: 'a', bind: ['k'] })).toEqual({
      kind: 'replace',
      expected: 'a',
    });
    expect(bindModeAfterPick({ kind: 'pick', reason: 'miss', bind: ['k'] })).toEqual({ kind: 'nx' });
  });
});
