import type { IncomingHttpHeaders } from 'node:http';
import { upstreamError, type UpstreamError } from './upstream-errors';

/**
 * Anthropic's rules for subscription (Claude Pro/Max OAuth) tokens, which it serves only for
 * requests shaped like Claude Code's. Requests bearing such a token (they contain `sk-ant-oat`)
 * are refused, with the API's own error envelope, unless they use Bearer auth, the beta
 * Messages endpoints (`/v1/messages?beta=true`, `/v1/messages/count_tokens?beta=true`), the
 * `oauth-2025-04-20` beta flag, and (for messages) a system prompt opening with Claude Code's
 * identity block (optionally after its billing block).
 */
export const CLAUDE_OAUTH_TOKEN_MARK = 'sk-ant-oat';
const OAUTH_BETA = 'oauth-2025-04-20';
const CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";
const BILLING_PREFIX = 'x-anthropic-billing-header:';

const first = (value: string | string[] | undefined): string =>
  Array.isArray(value) ? (value[0] ?? '') : (value ?? '');

function bearerOf(headers: IncomingHttpHeaders): string {
  const auth = first(headers.authorization);
  return auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
}

function opensLikeClaudeCode(system: unknown): boolean {
  if (!Array.isArray(system)) return false;
  const blocks = system as Array<{ text?: unknown } | null>;
  let index = 0;
  if (typeof blocks[0]?.text === 'string' && blocks[0].text.startsWith(BILLING_PREFIX)) index = 1;
  const text = blocks[index]?.text;
  return typeof text === 'string' && text.startsWith(CLAUDE_CODE_IDENTITY);
}

/** The refusal for a subscription-token request outside Claude Code's dialect; undefined when allowed or not such a request. */
export function claudeOAuthProblem(
  path: string,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
  body: unknown,
): UpstreamError | undefined {
  if (first(headers['x-api-key']).includes(CLAUDE_OAUTH_TOKEN_MARK))
    return upstreamError('claude', 401, { message: 'invalid x-api-key' });
  if (!bearerOf(headers).includes(CLAUDE_OAUTH_TOKEN_MARK)) return undefined;
  if (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')
    return upstreamError('claude', 404, { message: 'Not Found' });
  if (query.get('beta') !== 'true') {
    return upstreamError('claude', 400, {
      message: 'OAuth tokens are only accepted on the beta Messages API (?beta=true).',
    });
  }
  const betas = first(headers['anthropic-beta'])
    .split(',')
    .map((beta) => beta.trim());
  if (!betas.includes(OAUTH_BETA))
    return upstreamError('claude', 401, { message: 'OAuth authentication is currently not supported.' });
  if (path === '/v1/messages' && !opensLikeClaudeCode((body as { system?: unknown } | undefined)?.system)) {
    return upstreamError('claude', 400, {
      message: 'This credential is only authorized for use with Claude Code and cannot be used for other API requests.',
    });
  }
  return undefined;
}
