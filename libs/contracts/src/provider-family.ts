/**
 * A provider family is one kind of upstream: it decides the wire format, endpoints,
 * authentication and error mapping. Each family runs in its own executor process.
 * `gemini` is the Gemini API with API keys; `gemini-cli` and `antigravity` are Google
 * account logins served through Cloud Code Assist; `vertex` is Vertex AI (service
 * accounts, or `vertex-api-key` entries). `kimi` (Kimi Code device-flow logins) and `iflow`
 * (iFlow logins, which call with the account's API key) are OpenAI-chat upstreams with
 * client headers of their own.
 */
export const PROVIDER_FAMILIES = [
  'claude',
  'gemini',
  'codex',
  'openai-compat',
  'gemini-cli',
  'antigravity',
  'vertex',
  'kimi',
  'iflow',
] as const;
export type ProviderFamily = (typeof PROVIDER_FAMILIES)[number];

export function isProviderFamily(value: string): value is ProviderFamily {
  return (PROVIDER_FAMILIES as readonly string[]).includes(value);
}

/** How a credential authenticates upstream. */
export type CredentialKind = 'api_key' | 'oauth';
