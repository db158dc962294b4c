import type { ProviderAdapter, UpstreamBody, UpstreamCall, UpstreamTarget } from '../provider-adapter';
import { joinUrl, secretToken, tryParseJsonObject } from '../provider-adapter';
import { CODEX_CLI, DEFAULT_CODEX_CHATGPT_BASE_URL } from './client-profiles';
import {
  chatgptAccountId,
  CODEX_PASSED_HEADERS,
  codexPromptCacheKey,
  isModelCapacityError,
  prepareCodexBody,
} from './codex-chatgpt';

/**
 * OpenAI Responses. `codex-api-key` entries (kind `api_key`) call `{base|https://api.openai.com/v1}/responses`
 * with the key as Bearer, body as translated. ChatGPT-account logins (kind `oauth`) call the Codex
 * backend `{CODEX_BASE_URL|base|https://chatgpt.com/backend-api/codex}/responses` in Codex CLI's
 * dialect (see codex-chatgpt.ts and the README). Always called with streams, as the Codex
 * backend requires; non-streaming clients get the stream aggregated.
 */
export const codexAdapter: ProviderAdapter = {
  family: 'codex',
  upstreamFormat: 'openai-responses',
  streamingOnly: true,
  target(call: UpstreamCall) {
    if (call.kind === 'oauth') return chatgptTarget(call);
    return {
      url: joinUrl(call.baseUrl || 'https://api.openai.com/v1', '/responses'),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secretToken(call.secret)}`,
        ...call.headers,
      },
    };
  },
  prepareBody(call: UpstreamCall, body: UpstreamBody, _stream: boolean, target?: UpstreamTarget) {
    if (call.kind !== 'oauth') return body;
    const request = tryParseJsonObject(body);
    if (!request) return body;
    const promptCacheKey = codexPromptCacheKey(request, call.route, call.credentialId ?? secretToken(call.secret));
    prepareCodexBody(request, promptCacheKey);
    if (target) target.headers.session_id = promptCacheKey;
    return Buffer.from(JSON.stringify(request));
  },
  failureStatus(status: number, body: string) {
    return isModelCapacityError(body) ? 429 : status;
  },
};

function chatgptTarget(call: UpstreamCall): UpstreamTarget {
  const accountId = chatgptAccountId(call.secret);
  // Without it the backend refuses every request: say why instead of relaying its 400.
  if (!accountId) throw new Error('codex login has no ChatGPT account id (neither accountId nor an id_token claim)');
  const client = call.route.headers;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${secretToken(call.secret)}`,
    'chatgpt-account-id': accountId,
    originator: client.originator || CODEX_CLI.originator,
    'user-agent': client['user-agent']?.startsWith('codex') ? client['user-agent'] : CODEX_CLI.userAgent,
    accept: 'text/event-stream',
  };
  for (const name of CODEX_PASSED_HEADERS) {
    const value = client[name];
    if (value) headers[name] = value;
  }
  const base = process.env.CODEX_BASE_URL || call.baseUrl || DEFAULT_CODEX_CHATGPT_BASE_URL;
  return { url: joinUrl(base, '/responses'), headers: { ...headers, ...call.headers } };
}
