import { describe, expect, it } from 'vitest';
import type { CredentialInfo } from './catalog.types';
import { snapshotOf } from './catalog';
import { toCredentialInfo, type CredentialRow } from './credential-info';
import { matchesModelPattern, ModelRegistry, modelsServedBy } from './model-registry';
import { routingSettingsFrom } from './settings';
import { testCredential } from './test-credential';

const credential = (over: Partial<CredentialInfo>) => testCredential('c1', over);

describe('routingSettingsFrom', () => {
  it('uses CLIProxyAPI defaults when nothing is configured', () => {
    expect(routingSettingsFrom({})).toEqual({
      strategy: 'round-robin',
      sessionAffinity: false,
      sessionAffinityTtlMs: 3_600_000,
      requestRetry: 3,
      maxRetryIntervalMs: 30_000,
      maxRetryCredentials: 0,
      forceModelPrefix: false,
      disableCooling: false,
      transientCooldownMs: 60_000,
    });
  });
  it('reads durations as Go text or seconds and normalises strategy spellings', () => {
    const s = routingSettingsFrom({
      'routing.strategy': 'fillfirst',
      'routing.session-affinity-ttl': '30m',
      'max-retry-interval': 5,
      'routing.session-affinity': true,
    });
    expect(s.strategy).toBe('fill-first');
    expect(s.sessionAffinityTtlMs).toBe(1_800_000);
    expect(s.maxRetryIntervalMs).toBe(5_000);
    expect(s.sessionAffinity).toBe(true);
  });
  it('reads strategies through the one alias table of @cpa/routing', () => {
    expect(routingSettingsFrom({ 'routing.strategy': 'weightedroundrobin' }).strategy).toBe('weighted-round-robin');
    expect(routingSettingsFrom({ 'routing.strategy': 'random' }).strategy).toBe('round-robin');
  });
  it('treats transient cooldown 0 as 60 s and negative as disabled', () => {
    expect(routingSettingsFrom({ 'transient-error-cooldown-seconds': 0 }).transientCooldownMs).toBe(60_000);
    expect(routingSettingsFrom({ 'transient-error-cooldown-seconds': 15 }).transientCooldownMs).toBe(15_000);
    expect(routingSettingsFrom({ 'transient-error-cooldown-seconds': -1 }).transientCooldownMs).toBe(-1);
  });
});

describe('model registry', () => {
  it('serves the family defaults when a credential lists no models', () => {
    const ids = modelsServedBy(credential({})).map((m) => m.id);
    expect(ids).toContain('claude-sonnet-4-5-20250929');
  });
  it('serves aliases and sends the upstream name', () => {
    const served = modelsServedBy(credential({ models: [{ name: 'claude-opus-4-5-20251101', alias: 'opus' }] }));
    expect(served).toEqual([
      { id: 'opus', upstreamModel: 'claude-opus-4-5-20251101', credentialId: 'c1', provider: 'claude' },
    ]);
  });
  it('drops excluded models, with wildcards', () => {
    const ids = modelsServedBy(credential({ excludedModels: ['*opus*', 'claude-haiku-4-5-20251001'] })).map(
      (m) => m.id,
    );
    expect(ids.some((id) => id.includes('opus'))).toBe(false);
    expect(ids).not.toContain('claude-haiku-4-5-20251001');
    expect(ids).toContain('claude-sonnet-4-5-20250929');
  });
  it('matches wildcard patterns case-insensitively', () => {
    expect(matchesModelPattern('gpt-*', 'GPT-5')).toBe(true);
    expect(matchesModelPattern('*-mini', 'gpt-4o-mini')).toBe(true);
    expect(matchesModelPattern('*4o*', 'gpt-4o-mini')).toBe(true);
    expect(matchesModelPattern('gpt-4o', 'gpt-4o-mini')).toBe(false);
  });
  it('serves prefixed names, and unprefixed ones only without force-model-prefix', () => {
    const creds = [credential({ id: 'a', prefix: 'teamA', models: [{ name: 'm', alias: 'm' }] })];
    expect(new ModelRegistry(creds, false).lookup('teamA/m')).toHaveLength(1);
    expect(new ModelRegistry(creds, false).lookup('m')).toHaveLength(1);
    expect(new ModelRegistry(creds, true).lookup('m')).toHaveLength(0);
  });
  it('skips disabled credentials and lists every model once with its providers', () => {
    const registry = new ModelRegistry(
      [
        credential({ id: 'a', provider: 'openai-compat', models: [{ name: 'x', alias: 'x' }] }),
        credential({ id: 'b', provider: 'claude', models: [{ name: 'x', alias: 'x' }] }),
        credential({ id: 'c', provider: 'claude', disabled: true, models: [{ name: 'y', alias: 'y' }] }),
      ],
      false,
    );
    expect(registry.listModels()).toEqual([{ id: 'x', providers: ['openai-compat', 'claude'] }]);
  });
});

describe('toCredentialInfo', () => {
  const row = (over: Partial<CredentialRow>): CredentialRow => ({
    id: 'r1',
    provider: 'openai-compat',
    kind: 'api_key',
    label: '',
    prefix: '',
    priority: 0,
    weight: 1,
    disabled: false,
    baseUrl: '',
    proxyUrl: '',
    attributes: {},
    version: 3,
    ...over,
  });
  it('takes models, prefix, base URL and headers from the openai-compatibility entry', () => {
    const info = toCredentialInfo(
      row({
        providerConfig: {
          name: 'router',
          baseUrl: 'http://up/v1',
          prefix: 'r',
          disabled: false,
          models: [{ name: 'm1', alias: 'a1' }],
          headers: { 'x-a': '1' },
        },
        attributes: { headers: { 'x-b': '2' } },
      }),
    );
    expect(info).toMatchObject({
      baseUrl: 'http://up/v1',
      prefix: 'r',
      providerName: 'router',
      models: [{ name: 'm1', alias: 'a1' }],
      headers: { 'x-a': '1', 'x-b': '2' },
    });
  });
  it('ignores rows of unknown provider families', () => {
    expect(toCredentialInfo(row({ provider: 'mystery' }))).toBeUndefined();
  });
  it('is out of routing while it waits for a new login', () => {
    const info = toCredentialInfo(row({ provider: 'claude', kind: 'oauth', status: 'needs_login' }))!;
    expect(info.disabled).toBe(true);
    expect(new ModelRegistry([info], false).listModels()).toEqual([]);
    expect(toCredentialInfo(row({ provider: 'claude', kind: 'oauth', status: 'error' }))?.disabled).toBe(false);
  });
  it('is disabled when its provider entry is', () => {
    const info = toCredentialInfo(
      row({ providerConfig: { name: 'n', baseUrl: 'u', prefix: '', disabled: true, models: [], headers: {} } }),
    );
    expect(info?.disabled).toBe(true);
  });
});

describe('snapshotOf', () => {
  it('sorts credentials by id so every replica sees one order', () => {
    const snap = snapshotOf([credential({ id: 'b' }), credential({ id: 'a' })], {});
    expect(snap.credentials.map((c) => c.id)).toEqual(['a', 'b']);
    expect(snap.byId.get('b')?.id).toBe('b');
  });
});
