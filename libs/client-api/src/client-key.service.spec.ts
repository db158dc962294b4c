import { describe, expect, it } from 'vitest';
import { snapshotOf, UNLIMITED_POLICY, type Catalog, type CatalogSnapshot } from '@cpa/catalog';
import { hashClientKey } from '@cpa/db/light';
import { ClientKeyService, ClientKeysUnavailable } from './client-key.service';

type Key = { id: string; label: string; disabled: boolean; key: string; expiresAt?: number; models?: string[] };

/** A catalog whose snapshot holds the hashes of `keys`, at a generation the test moves. */
function catalogWith(keys: Key[], generation = 1) {
  const state = { snapshot: undefined as unknown as CatalogSnapshot };
  const set = (next: Key[], gen: number) => {
    state.snapshot = snapshotOf(
      [],
      {},
      {
        generation: gen,
        clientKeys: new Map(next.map(({ key, ...k }) => [hashClientKey(key), { ...k, hash: hashClientKey(key) }])),
      },
    );
  };
  set(keys, generation);
  return { catalog: state as unknown as Catalog, set };
}

const good: Key = { id: 'c1', label: 'ci', disabled: false, key: 'sk-good' };

describe('ClientKeyService', () => {
  it('answers missing, known, unknown and disabled keys from the snapshot hashes', async () => {
    const { catalog } = catalogWith([good, { id: 'c2', label: 'off', disabled: true, key: 'sk-off' }]);
    const service = new ClientKeyService(catalog);
    expect(await service.check(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await service.check('sk-good')).toEqual({
      ok: true,
      client: { id: 'c1', label: 'ci', policy: UNLIMITED_POLICY },
    });
    expect(await service.check('sk-bad')).toEqual({ ok: false, reason: 'invalid' });
    expect(await service.check('sk-off')).toEqual({ ok: false, reason: 'disabled' });
  });

  it('judges a key again against a newer snapshot (key removed, key added)', async () => {
    const { catalog, set } = catalogWith([good]);
    const service = new ClientKeyService(catalog);
    expect((await service.check('sk-good')).ok).toBe(true);
    expect((await service.check('sk-new')).ok).toBe(false);
    set([{ id: 'c3', label: 'new', disabled: false, key: 'sk-new' }], 2);
    expect(await service.check('sk-good')).toEqual({ ok: false, reason: 'invalid' });
    expect(await service.check('sk-new')).toEqual({
      ok: true,
      client: { id: 'c3', label: 'new', policy: UNLIMITED_POLICY },
    });
  });

  it('refuses a key past its expiry, judged at each check rather than cached', async () => {
    const expiresAt = Date.UTC(2026, 10, 30, 12);
    const { catalog } = catalogWith([{ ...good, expiresAt, models: ['gpt-*'] } as Key]);
    const service = new ClientKeyService(catalog);
    const before = await service.check('sk-good', expiresAt - 1);
    expect(before.ok && before.client.policy).toEqual({ ...UNLIMITED_POLICY, models: ['gpt-*'], expiresAt });
    expect(await service.check('sk-good', expiresAt)).toEqual({ ok: false, reason: 'expired', expiredAt: expiresAt });
  });

  it('cannot judge a key before any snapshot was read (the gateway answers 503)', async () => {
    const { catalog } = catalogWith([good], 0);
    await expect(new ClientKeyService(catalog).check('sk-good')).rejects.toBeInstanceOf(ClientKeysUnavailable);
  });
});
