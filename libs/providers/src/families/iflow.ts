import { createHmac, randomUUID } from 'node:crypto';
import type { ProviderAdapter, UpstreamBody, UpstreamCall } from '../provider-adapter';
import { joinUrl, tryParseJsonObject } from '../provider-adapter';
import { DEFAULT_IFLOW_BASE_URL, IFLOW_CLI } from './client-profiles';

/**
 * iFlow's request signature: hex HMAC-SHA256 keyed with the account's API key over
 * `<user agent>:<session id>:<timestamp ms>` (CLIProxyAPI's createIFlowSignature).
 */
export function iflowSignature(userAgent: string, sessionId: string, timestampMs: number, apiKey: string): string {
  return createHmac('sha256', apiKey).update(`${userAgent}:${sessionId}:${timestampMs}`).digest('hex');
}

/** What varies per request; fixed in tests. */
export interface IFlowRequestIdentity {
  sessionId: string;
  timestampMs: number;
}

export const newIFlowIdentity = (): IFlowRequestIdentity => ({
  sessionId: `session-${randomUUID()}`,
  timestampMs: Date.now(),
});

/** The headers of one iFlow request: the API key as Bearer and the signed session headers (pure). */
export function iflowHeaders(apiKey: string, stream: boolean, identity: IFlowRequestIdentity): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${apiKey}`,
    'user-agent': IFLOW_CLI.userAgent,
    'session-id': identity.sessionId,
    'x-iflow-timestamp': String(identity.timestampMs),
    'x-iflow-signature': iflowSignature(IFLOW_CLI.userAgent, identity.sessionId, identity.timestampMs, apiKey),
    accept: stream ? 'text/event-stream' : 'application/json',
  };
}

/** A tool list iFlow's streams need instead of an empty one (CLIProxyAPI's ensureToolsArray). */
const PLACEHOLDER_TOOLS = [
  {
    type: 'function',
    function: { name: 'noop', description: 'Placeholder tool to stabilise streaming', parameters: { type: 'object' } },
  },
];

function apiKeyOf(call: UpstreamCall): string {
  const key = typeof call.secret.apiKey === 'string' ? call.secret.apiKey.trim() : '';
  // The access token is not accepted by the chat API: only the key from the account's user info is.
  if (!key) throw new Error('iflow credential has no API key (api_key); a refresh or a new login fetches it');
  return key;
}

/**
 * iFlow (OAuth logins that call with the account's API key):
 * `{base|IFLOW_BASE_URL|https://apis.iflow.cn/v1}/chat/completions`, Bearer = the API key,
 * with a fresh session id, timestamp and signature per request.
 */
export const iflowAdapter: ProviderAdapter = {
  family: 'iflow',
  upstreamFormat: 'openai-chat',
  target(call: UpstreamCall, stream: boolean) {
    const base = call.baseUrl || process.env.IFLOW_BASE_URL?.trim() || DEFAULT_IFLOW_BASE_URL;
    return {
      url: joinUrl(base, '/chat/completions'),
      headers: { ...iflowHeaders(apiKeyOf(call), stream, newIFlowIdentity()), ...call.headers },
    };
  },
  prepareBody(_call: UpstreamCall, body: UpstreamBody, stream: boolean) {
    if (!stream) return body;
    const request = tryParseJsonObject(body);
    if (!request || !Array.isArray(request.tools) || request.tools.length > 0) return body;
    request.tools = PLACEHOLDER_TOOLS;
    return Buffer.from(JSON.stringify(request));
  },
};
