import type { IncomingHttpHeaders } from 'node:http';
import type { UpstreamError } from './upstream-errors';

/**
 * The ChatGPT backend Codex CLI talks to (`https://chatgpt.com/backend-api/codex/responses`),
 * which is stricter than the public Responses API and answers errors as `{"detail": "..."}`.
 * Refused: no Bearer token, an expired token (JWT `exp`), a missing Chatgpt-Account-Id or one
 * that is not the token's account (JWT claim `https://api.openai.com/auth`.chatgpt_account_id),
 * `stream` other than true, `store` other than false, missing `instructions`, and the
 * parameters the backend does not support.
 */
export const CHATGPT_CODEX_PATH = '/backend-api/codex/responses';

export const CHATGPT_UNSUPPORTED_FIELDS = [
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

const first = (value: string | string[] | undefined): string =>
  Array.isArray(value) ? (value[0] ?? '') : (value ?? '');

const detail = (status: number, message: string): UpstreamError => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: { detail: message },
});

/** Claims of a JWT access token (ChatGPT's are JWTs); undefined for opaque tokens. */
function claimsOf(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The backend's refusal of a request on its Codex path; undefined when allowed or not on that path. */
export function chatgptCodexProblem(
  path: string,
  headers: IncomingHttpHeaders,
  body: unknown,
): UpstreamError | undefined {
  if (!path.endsWith(CHATGPT_CODEX_PATH)) return undefined;
  const auth = first(headers.authorization);
  const token = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
  if (!token) return detail(401, 'Unauthorized');
  const claims = claimsOf(token);
  if (typeof claims?.exp === 'number' && claims.exp * 1000 < Date.now()) {
    return detail(401, 'Your authentication token has expired. Please try signing in again.');
  }
  const accountId = first(headers['chatgpt-account-id']);
  if (!accountId) return detail(400, 'Missing chatgpt-account-id header');
  const tokenAccount = (claims?.['https://api.openai.com/auth'] as { chatgpt_account_id?: unknown } | undefined)
    ?.chatgpt_account_id;
  if (typeof tokenAccount === 'string' && tokenAccount !== accountId)
    return detail(400, 'chatgpt-account-id does not match the authenticated account');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return detail(400, 'Invalid request body');
  const json = body as Record<string, unknown>;
  if (json.stream !== true) return detail(400, 'Stream must be set to true');
  if (json.store !== false) return detail(400, 'Store must be set to false');
  for (const field of CHATGPT_UNSUPPORTED_FIELDS)
    if (field in json) return detail(400, `Unsupported parameter: ${field}`);
  if (typeof json.instructions !== 'string') return detail(400, 'Instructions are required');
  return undefined;
}
