import type { CredentialInfo } from './catalog.types';

/**
 * Tests: a catalog credential with neutral defaults (an enabled claude API key labelled with
 * its id, priority 0, weight 1, no models of its own, so the family's defaults apply);
 * `over` sets what the test is about. Other projects import it from `@cpa/catalog/testing`.
 */
export function testCredential(id: string, over: Partial<CredentialInfo> = {}): CredentialInfo {
  return {
    id,
    provider: 'claude',
    kind: 'api_key',
    label: id,
    prefix: '',
    priority: 0,
    weight: 1,
    disabled: false,
    baseUrl: '',
    proxyUrl: '',
    headers: {},
    models: [],
    excludedModels: [],
    version: 1,
    ...over,
  };
}
