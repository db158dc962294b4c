import { describe, expect, it } from 'vitest';
import type { AttemptResult } from '@cpa/contracts';
import {
  snapshotOf,
  type Catalog,
  type CatalogClientKey,
  type ClientKeyCharge,
  type ClientKeyLimits,
} from '@cpa/catalog';
import { chargesOf, ClientKeyUsageHook } from './client-key-usage';

const result = (overrides: Partial<AttemptResult>): AttemptResult => ({
  credentialId: 'c',
  family: 'claude',
  baseModel: 'm',
  ok: true,
  status: 200,
  ...overrides,
});

/** A catalog whose snapshot holds these client keys (hash = id, for brevity). */
function catalogWith(keys: (Partial<CatalogClientKey> & { id: string })[]): Catalog {
  const snapshot = snapshotOf(
    [],
    {},
    { generation: 1, clientKeys: new Map(keys.map((k) => [k.id, { label: '', disabled: false, hash: k.id, ...k }])) },
  );
  return { snapshot } as unknown as Catalog;
}

describe('chargesOf', () => {
  it('charges input + output tokens to the result’s client key, a request without usage as 0 tokens', () => {
    expect(
      chargesOf(
        [
          result({
            clientKeyId: 'k1',
            usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 3, reasoningTokens: 2 },
          }),
          result({ clientKeyId: 'k2', ok: false, status: 500 }),
          result({ usage: { inputTokens: 1, outputTokens: 1 } }),
        ],
        new Set(['k1', 'k2']),
      ),
    ).toEqual([
      { clientKeyId: 'k1', tokens: 15 },
      { clientKeyId: 'k2', tokens: 0 },
    ]);
  });

  it('charges only the keys it is told to (those whose limits count tokens)', () => {
    const results = [
      result({ clientKeyId: 'limited', usage: { inputTokens: 2, outputTokens: 3 } }),
      result({ clientKeyId: 'free', usage: { inputTokens: 7, outputTokens: 1 } }),
    ];
    expect(chargesOf(results, new Set(['limited']))).toEqual([{ clientKeyId: 'limited', tokens: 5 }]);
    expect(chargesOf(results, new Set())).toEqual([]);
  });
});

describe('ClientKeyUsageHook', () => {
  it('sends one batch of charges per batch of results, and survives a failing Redis', async () => {
    const batches: ClientKeyCharge[][] = [];
    let fail = true;
    const limits = {
      charge: async (charges: ClientKeyCharge[]) => {
        batches.push(charges);
        if (fail) throw new Error('Redis is unreachable');
      },
    } as unknown as ClientKeyLimits;
    const hook = new ClientKeyUsageHook(limits, catalogWith([{ id: 'k1', dailyTokenBudget: 1000 }]));
    hook.record([result({ clientKeyId: 'k1', usage: { inputTokens: 1, outputTokens: 2 } })]);
    await new Promise((resolve) => setImmediate(resolve));
    fail = false;
    hook.record([result({ clientKeyId: 'k1', usage: { inputTokens: 4, outputTokens: 0 } }), result({})]);
    hook.record([result({})]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[{ clientKeyId: 'k1', tokens: 3 }], [{ clientKeyId: 'k1', tokens: 4 }]]);
  });

  it('leaves keys without a tpm limit or budget out of Redis: unlimited, rpm-only and config keys send nothing', async () => {
    const batches: ClientKeyCharge[][] = [];
    const limits = {
      charge: async (charges: ClientKeyCharge[]) => void batches.push(charges),
    } as unknown as ClientKeyLimits;
    const hook = new ClientKeyUsageHook(
      limits,
      catalogWith([
        { id: 'free' },
        { id: 'rpm-only', rpmLimit: 10 },
        { id: 'tpm', tpmLimit: 500 },
        { id: 'monthly', monthlyTokenBudget: 9 },
      ]),
    );
    hook.record([
      result({ clientKeyId: 'free', usage: { inputTokens: 1, outputTokens: 1 } }),
      result({ clientKeyId: 'rpm-only', usage: { inputTokens: 1, outputTokens: 1 } }),
    ]);
    hook.record([
      result({ clientKeyId: 'tpm', usage: { inputTokens: 2, outputTokens: 2 } }),
      result({ clientKeyId: 'monthly', usage: { inputTokens: 3, outputTokens: 0 } }),
      result({ clientKeyId: 'unknown', usage: { inputTokens: 3, outputTokens: 0 } }),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([
      [
        { clientKeyId: 'tpm', tokens: 4 },
        { clientKeyId: 'monthly', tokens: 3 },
      ],
    ]);
  });
});
