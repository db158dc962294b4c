import { createHash } from 'node:crypto';
import type { ProviderFamily } from '@cpa/contracts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Ids derive from what identifies an entry, so importing the same file twice touches
 * nothing and the management API and the importer agree on which row an entry is.
 * openai-compat ids include the provider name: two providers may share a base URL and key
 * while exposing different models.
 */
export function credentialId(family: ProviderFamily, baseUrl: string, apiKey: string, providerName = ''): string {
  const material =
    family === 'openai-compat' ? `${family}|${providerName}|${baseUrl}|${apiKey}` : `${family}|${baseUrl}|${apiKey}`;
  return `${family}:${sha256(material).slice(0, 16)}`;
}

export function providerConfigId(name: string): string {
  return `openai-compat:${sha256(`provider|${name}`).slice(0, 16)}`;
}

export function clientKeyId(keyHash: string): string {
  return `ck:${keyHash.slice(0, 16)}`;
}

/** The secret JSON of an API-key credential (`ApiKeySecret` of @cpa/db), as executors read it. */
export function encodeApiKeySecret(apiKey: string): string {
  return JSON.stringify({ apiKey });
}

export function decodeApiKeySecret(json: string): string {
  const parsed = JSON.parse(json) as { apiKey?: unknown };
  return typeof parsed.apiKey === 'string' ? parsed.apiKey : '';
}
