import { describe, expect, it } from 'vitest';
import { ClientKeyService } from './client-key.service';

/** A key store that knows `sk-good` and counts its lookups. */
function store() {
  const lookups: string[] = [];
  const state = { down: false };
  const repo = {
    findActiveByKey: async (key: string) => {
      lookups.push(key);
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return key === 'sk-good' ? { id: 'c1', label: 'ci', rpmLimit: 0 } : null;
    },
  };
  return { service: new ClientKeyService(repo as never), lookups, state };
}

describe('ClientKeyService', () => {
  it('answers missing without a lookup and known and unknown keys from the store', async () => {
    const { service, lookups } = store();
    expect(await service.check(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await service.check('sk-good')).toEqual({ ok: true, client: { id: 'c1', label: 'ci' } });
    expect(await service.check('sk-bad')).toEqual({ ok: false, reason: 'invalid' });
    expect(lookups).toEqual(['sk-good', 'sk-bad']);
  });

  it('caches verdicts until they expire, rejections for a shorter time', async () => {
    const { service, lookups } = store();
    await service.check('sk-good', 0);
    await service.check('sk-bad', 0);
    await service.check('sk-good', 10_000);
    await service.check('sk-bad', 4_000);
    expect(lookups).toEqual(['sk-good', 'sk-bad']);
    await service.check('sk-bad', 6_000);
    await service.check('sk-good', 31_000);
    expect(lookups).toEqual(['sk-good', 'sk-bad', 'sk-bad', 'sk-good']);
  });

  it('asks the store again after invalidate()', async () => {
    const { service, lookups } = store();
    await service.check('sk-good');
    service.invalidate();
    await service.check('sk-good');
    expect(lookups).toEqual(['sk-good', 'sk-good']);
  });

  it('keeps known verdicts, even expired or invalidated ones, while the store is unreachable', async () => {
    const { service, state } = store();
    await service.check('sk-good', 0);
    await service.check('sk-bad', 0);
    state.down = true;
    expect(await service.check('sk-good', 60_000)).toEqual({ ok: true, client: { id: 'c1', label: 'ci' } });
    service.invalidate();
    expect(await service.check('sk-bad', 60_000)).toEqual({ ok: false, reason: 'invalid' });
    await expect(service.check('sk-never-seen', 60_000)).rejects.toThrow(/ECONNREFUSED/);
    state.down = false;
    expect(await service.check('sk-never-seen', 60_000)).toEqual({ ok: false, reason: 'invalid' });
  });
});
