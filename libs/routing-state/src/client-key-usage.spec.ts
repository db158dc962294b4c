import { describe, expect, it } from 'vitest';
import type { AttemptResult } from '@cpa/contracts';
import type { ClientKeyCharge, ClientKeyLimits } from '@cpa/catalog';
import { chargesOf, ClientKeyUsageHook } from './client-key-usage';

const result = (overrides: Partial<AttemptResult>): AttemptResult => ({ credentialId: 'c', family: 'claude', baseModel: 'm', ok: true, status: 200, ...overrides });

describe('chargesOf', () => {
  it('charges input + output tokens to the result’s client key, a request without usage as 0 tokens', () => {
    expect(
      chargesOf([
        result({ clientKeyId: 'k1', usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 3, reasoningTokens: 2 } }),
        result({ clientKeyId: 'k2', ok: false, status: 500 }),
        result({ usage: { inputTokens: 1, outputTokens: 1 } }),
      ]),
    ).toEqual([
      { clientKeyId: 'k1', tokens: 15 },
      { clientKeyId: 'k2', tokens: 0 },
    ]);
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
    const hook = new ClientKeyUsageHook(limits);
    hook.record([result({ clientKeyId: 'k1', usage: { inputTokens: 1, outputTokens: 2 } })]);
    await new Promise((resolve) => setImmediate(resolve));
    fail = false;
    hook.record([result({ clientKeyId: 'k1', usage: { inputTokens: 4, outputTokens: 0 } }), result({})]);
    hook.record([result({})]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[{ clientKeyId: 'k1', tokens: 3 }], [{ clientKeyId: 'k1', tokens: 4 }]]);
  });
});
