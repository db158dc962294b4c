/**
 * tools/stack.mjs is plain JavaScript that runs before anything is built, so it cannot
 * import @cpa/contracts and keeps its own list of the executors it starts: this keeps the
 * two lists one.
 */
import { describe, expect, it } from 'vitest';
import { PROVIDER_FAMILIES } from '@cpa/contracts';

describe('tools/stack.mjs', () => {
  it('starts one executor per provider family, in the order @cpa/contracts lists them', async () => {
    const { FAMILIES } = await import('./stack.mjs');
    expect(FAMILIES).toEqual([...PROVIDER_FAMILIES]);
  });
});
