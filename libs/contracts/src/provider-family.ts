/**
 * A provider family is one kind of upstream: it decides the wire format, endpoints,
 * authentication and error mapping. Each family runs in its own executor process.
 * `gemini` is the Gemini API with API keys; `gemini-cli` and `antigravity` are Google
 * account logins served through Cloud Code Assist; `vertex` is Vertex AI (service
 * accounts, or `vertex-api-key` entries).
 */
export const PROVIDER_FAMILIES = ['claude', 'gemini', 'codex', 'openai-compat', 'gemini-cli', 'antigravity', 'vertex'] as const;
export type ProviderFamily = (typeof PROVIDER_FAMILIES)[number];

export function isProviderFamily(value: string): value is ProviderFamily {
  return (PROVIDER_FAMILIES as readonly string[]).includes(value);
}

/** How a credential authenticates upstream. */
export type CredentialKind = 'api_key' | 'oauth';
