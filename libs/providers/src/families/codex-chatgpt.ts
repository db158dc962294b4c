import type { RouteRequest } from '@cpa/contracts';
import { codexIdentity } from '../oauth/refreshers';
import type { CredentialSecret } from '../provider-adapter';
import { stableUuid } from './stable-id';

/**
 * The Codex ChatGPT-account dialect's pure parts (chatgpt.com/backend-api/codex): the account
 * header and the body rules that backend enforces. Facts from CLIProxyAPI
 * internal/runtime/executor/codex_executor_request.go and
 * internal/translator/codex/openai/responses/codex_openai-responses_request.go.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Fields the ChatGPT backend refuses ("Unsupported parameter: ..."). */
export const CODEX_REMOVED_FIELDS = [
  'max_output_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'truncation',
  'user',
  'context_management',
  'previous_response_id',
  'prompt_cache_retention',
  'safety_identifier',
  'stream_options',
] as const;

/** Client headers Codex CLI sends that the backend reads; passed through when present. */
export const CODEX_PASSED_HEADERS = ['version', 'x-codex-turn-metadata', 'x-client-request-id'] as const;

/** Chatgpt-Account-Id: the secret's `accountId`, else the id_token claim `https://api.openai.com/auth` -> `chatgpt_account_id`. */
export function chatgptAccountId(secret: CredentialSecret): string | undefined {
  if (typeof secret.accountId === 'string' && secret.accountId) return secret.accountId;
  if (typeof secret.idToken !== 'string') return undefined;
  const accountId = codexIdentity(secret.idToken).accountId;
  return typeof accountId === 'string' ? accountId : undefined;
}

/**
 * The conversation's prompt_cache_key (also sent as Session_id): the client's own, else its
 * session_id header, else one derived from the routing session or the client key (or the
 * credential), so a conversation keeps hitting the same cache.
 */
export function codexPromptCacheKey(
  body: Json,
  route: Pick<RouteRequest, 'headers' | 'sessionIds' | 'clientKeyId'>,
  credentialKey: string,
): string {
  if (typeof body.prompt_cache_key === 'string' && body.prompt_cache_key.trim()) return body.prompt_cache_key;
  const header = route.headers.session_id?.trim();
  if (header) return header;
  if (route.sessionIds[0]) return stableUuid('codex-prompt-cache', 'session', route.sessionIds[0]);
  return stableUuid('codex-prompt-cache', 'client', route.clientKeyId ?? credentialKey);
}

/**
 * Applies the backend's body rules to a freshly parsed Responses body in place (and returns it):
 * always a stream, never stored, parallel tool calls, encrypted reasoning included, instructions
 * present, the prompt cache key set, refused fields removed, `system` turns as `developer`.
 */
export function prepareCodexBody(body: Json, promptCacheKey: string): Json {
  if (typeof body.input === 'string') {
    body.input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: body.input }] }];
  }
  body.stream = true;
  body.store = false;
  body.parallel_tool_calls = true;
  body.include = ['reasoning.encrypted_content'];
  if (typeof body.instructions !== 'string') body.instructions = '';
  body.prompt_cache_key = promptCacheKey;
  for (const field of CODEX_REMOVED_FIELDS) delete body[field];
  // Only the priority tier is accepted; anything else is the account's default anyway.
  if (body.service_tier !== undefined && body.service_tier !== 'priority') delete body.service_tier;
  if (Array.isArray(body.input)) {
    for (const item of body.input) if (isObject(item) && item.role === 'system') item.role = 'developer';
  }
  return body;
}

/** "Selected model is at capacity" (any status): a temporary shortage the router should treat as a 429. */
export function isModelCapacityError(body: string): boolean {
  const lower = body.toLowerCase();
  return (
    lower.includes('selected model is at capacity') ||
    lower.includes('model is at capacity. please try a different model')
  );
}
