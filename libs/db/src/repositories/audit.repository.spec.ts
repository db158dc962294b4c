import { describe, expect, it } from 'vitest';
import { assertNoSecretFields, AuditSecretError, type AuditDetails } from './audit.repository';

describe('assertNoSecretFields', () => {
  it('accepts flat, non-secret details', () => {
    expect(() =>
      assertNoSecretFields({
        credentialId: 'c1',
        keyPreview: 'sk-pro...wxyz',
        settingKey: 'request-retry',
        key: 'routing.strategy',
        inputTokens: 3,
        models: ['a', 'b'],
        disabled: false,
        label: null,
      }),
    ).not.toThrow();
  });

  it.each([
    'apiKey',
    'api_key',
    'api-key',
    'clientKey',
    'managementKey',
    'secret',
    'clientSecret',
    'refreshToken',
    'access_token',
    'password',
    'Authorization',
    'cookie',
    'codeVerifier',
    'apikey',
  ])('rejects the field %s', (field) => {
    expect(() => assertNoSecretFields({ [field]: 'x' })).toThrow(AuditSecretError);
  });

  it('rejects nested payloads', () => {
    const nested = { body: { apiKey: 'x' } } as unknown as AuditDetails;
    expect(() => assertNoSecretFields(nested)).toThrow(AuditSecretError);
    expect(() => assertNoSecretFields({ list: [1, 2] as unknown as string[] })).toThrow(AuditSecretError);
  });
});
