import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTING_SETTINGS, type CatalogSnapshot, type CredentialInfo } from '@cpa/catalog';
import { testCredential } from '@cpa/catalog/testing';
import { RouteScopes } from './route-scope';

const credential = (id: string, over: Partial<CredentialInfo>) =>
  testCredential(id, { kind: 'oauth', provider: 'gemini-cli', ...over });

/** Only what RouteScopes reads. */
function snapshot(credentials: CredentialInfo[], rawSettings: Record<string, unknown>): CatalogSnapshot {
  return { credentials, settings: DEFAULT_ROUTING_SETTINGS, rawSettings } as unknown as CatalogSnapshot;
}

describe('RouteScopes with oauth-model-alias and oauth-excluded-models', () => {
  const settings = {
    'oauth-model-alias': { 'gemini-cli': [{ name: 'gemini-2.5-flash', alias: 'cli-flash' }] },
    'oauth-excluded-models': { 'gemini-cli': ['gemini-2.5-pro'] },
  };
  const login = credential('login', {});
  const apiKey = credential('key', { kind: 'api_key' });

  it('routes a channel alias of an OAuth credential to its upstream name, and only OAuth credentials', () => {
    const scope = new RouteScopes().scope(snapshot([login, apiKey], settings), 'cli-flash');
    expect(scope.candidates.map((c) => c.credential.id)).toEqual(['login']);
    expect(scope.candidates[0]!.upstream.map((u) => u.upstreamModel)).toEqual(['gemini-2.5-flash']);
  });

  it('an alias without fork hides the original name; the channel exclusion hides a model', () => {
    const scopes = new RouteScopes();
    const routed = snapshot([login, apiKey], settings);
    expect(scopes.scope(routed, 'gemini-2.5-flash').candidates.map((c) => c.credential.id)).toEqual(['key']);
    expect(scopes.scope(routed, 'gemini-2.5-pro').candidates.map((c) => c.credential.id)).toEqual(['key']);
  });

  it('without rules an OAuth credential serves its default models under their own names', () => {
    const scope = new RouteScopes().scope(snapshot([login], {}), 'gemini-2.5-flash');
    expect(scope.candidates.map((c) => c.credential.id)).toEqual(['login']);
  });
});
