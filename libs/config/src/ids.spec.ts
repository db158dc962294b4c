import { describe, expect, it } from 'vitest';
import { clientKeyId, credentialId, decodeApiKeySecret, encodeApiKeySecret, providerConfigId } from './ids';

describe('deterministic ids', () => {
  it('derives a credential id from family, base URL and key', () => {
    const id = credentialId('claude', 'https://api.anthropic.com', 'sk-1');
    expect(id).toMatch(/^claude:[0-9a-f]{16}$/);
    expect(credentialId('claude', 'https://api.anthropic.com', 'sk-1')).toBe(id);
    expect(credentialId('claude', '', 'sk-1')).not.toBe(id);
    expect(credentialId('gemini', 'https://api.anthropic.com', 'sk-1')).not.toBe(id);
    expect(id).not.toContain('sk-1');
  });

  it('separates openai-compat providers sharing base URL and key', () => {
    expect(credentialId('openai-compat', 'https://x', 'k', 'a')).not.toBe(
      credentialId('openai-compat', 'https://x', 'k', 'b'),
    );
  });

  it('derives provider and client key ids', () => {
    expect(providerConfigId('openrouter')).toBe(providerConfigId('openrouter'));
    expect(providerConfigId('openrouter')).not.toBe(providerConfigId('other'));
    expect(clientKeyId('ab'.repeat(32))).toBe(`ck:${'ab'.repeat(8)}`);
  });

  it('round-trips the API key secret JSON', () => {
    expect(JSON.parse(encodeApiKeySecret('sk'))).toEqual({ apiKey: 'sk' });
    expect(decodeApiKeySecret(encodeApiKeySecret('sk'))).toBe('sk');
  });
});
