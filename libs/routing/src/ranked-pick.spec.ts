/**
 * Picks over candidates pre-sorted once per catalog snapshot (rankCandidates, `ranked`)
 * must decide exactly as picks over the unsorted candidates did: randomized catalogs,
 * states and strategies, compared pick by pick.
 */
import { describe, expect, it } from 'vitest';
// Deterministic (mulberry32), so a failure names a seed that reproduces it.
import { seededRandom } from '@cpa/testing';
import { markResult } from './mark-result';
import {
  applySelectionUpdate,
  availableCredentials,
  availableRanked,
  highestPriorityTier,
  pickCredential,
  rankCandidates,
  type SchedulableCredential,
  type SelectionState,
} from './selectors';
import type { RoutingStrategy } from './strategy';

const NOW = 1_700_000_000_000;
const MODEL = 'claude-x';
const PROVIDERS = ['claude', 'gemini', 'acme'];
const STRATEGIES: RoutingStrategy[] = ['round-robin', 'fill-first', 'weighted-round-robin'];

function randomCatalog(random: () => number): SchedulableCredential[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const size = 1 + Math.floor(random() * 40);
  const ids = new Set<string>();
  while (ids.size < size) ids.add(`cred-${Math.floor(random() * 1000).toString(36)}`);
  return [...ids].map((id) => {
    const credential: SchedulableCredential = { id, provider: pick(PROVIDERS) };
    // Unset, ordinary, negative and invalid (fractional: counts as 0) priorities; weights including excluded ones.
    const priority = pick([undefined, 0, 1, 2, 5, -1, 1.5]);
    if (priority !== undefined) credential.priority = priority;
    const weight = pick([undefined, 1, 2, 3, 0, 7]);
    if (weight !== undefined) credential.weight = weight;
    const roll = random();
    if (roll < 0.2)
      credential.state = markResult(
        undefined,
        { success: false, model: MODEL, status: 429, retryAfterMs: 1_000 + Math.floor(random() * 60_000) },
        NOW,
      ).state;
    else if (roll < 0.3)
      credential.state = markResult(undefined, { success: false, model: MODEL, status: 401 }, NOW).state;
    else if (roll < 0.35)
      credential.state = markResult(
        undefined,
        { success: false, model: 'other-model', status: 429, retryAfterMs: 5_000 },
        NOW,
      ).state;
    else if (roll < 0.4) credential.disabled = true;
    return credential;
  });
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('ranked candidates', () => {
  it('rankCandidates orders by priority (highest first, invalid as 0), then id', () => {
    const ranked = rankCandidates([
      { id: 'b', provider: 'p' },
      { id: 'a', provider: 'p', priority: 1.5 },
      { id: 'c', provider: 'p', priority: 2 },
      { id: 'd', provider: 'p', priority: -1 },
      { id: 'a2', provider: 'p', priority: 2 },
    ]);
    expect(ranked.map((c) => c.id)).toEqual(['a2', 'c', 'a', 'b', 'd']);
  });

  it('availableRanked answers as availableCredentials (single tier) and its all-tier form then the best tier (mixed) on 1,000 random catalogs', () => {
    for (let seed = 1; seed <= 1_000; seed++) {
      const random = seededRandom(seed);
      const catalog = randomCatalog(random);
      const ranked = rankCandidates(catalog);
      expect(availableRanked(ranked, 'claude', MODEL, NOW), `seed ${seed}`).toEqual(
        availableCredentials(catalog, 'claude', MODEL, NOW),
      );
      const all = availableCredentials(catalog, undefined, MODEL, NOW, true);
      const mixed = all.ok ? { ok: true, available: highestPriorityTier(all.available) } : all;
      expect(availableRanked(ranked, undefined, MODEL, NOW), `seed ${seed}`).toEqual(mixed);
    }
  }, 60_000);

  it('pickCredential over ranked candidates picks as over unsorted ones, pick by pick, for every strategy and provider mix', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seededRandom(seed);
      const catalog = randomCatalog(random);
      const ranked = rankCandidates(catalog);
      const unsorted = shuffled(catalog, random);
      const providers = shuffled(PROVIDERS, random).slice(0, 1 + Math.floor(random() * 3));
      for (const strategy of STRATEGIES) {
        let before: SelectionState = { cursors: {}, weighted: {} };
        let after: SelectionState = { cursors: {}, weighted: {} };
        for (let i = 0; i < 12; i++) {
          // Some picks leave a credential out, as the scheduler does with those already tried.
          const tried = random() < 0.3 ? catalog[Math.floor(random() * catalog.length)]!.id : undefined;
          const old = pickCredential({
            strategy,
            providers,
            model: MODEL,
            candidates: unsorted.filter((c) => c.id !== tried),
            now: NOW,
            state: before,
          });
          const now = pickCredential({
            strategy,
            providers,
            model: MODEL,
            candidates: ranked.filter((c) => c.id !== tried),
            ranked: true,
            now: NOW,
            state: after,
          });
          expect(now, `seed ${seed} ${strategy} pick ${i}`).toEqual(old);
          if (!old.ok || !now.ok) break;
          before = applySelectionUpdate(before, old.update);
          after = applySelectionUpdate(after, now.update);
        }
      }
    }
  }, 60_000);
});
