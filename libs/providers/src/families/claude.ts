import { randomUUID } from 'node:crypto';
import { RouteActions } from '@cpa/contracts';
import type { ProviderAdapter, UpstreamBody, UpstreamCall, UpstreamTarget } from '../provider-adapter';
import { joinUrl, secretToken, tryParseJsonObject } from '../provider-adapter';
import {
  cloakClaudeBody,
  isClaudeCodeClient,
  mergeBetas,
  takeBodyBetas,
  claudeSessionId,
  type ClaudeIdentity,
} from './claude-cloak';
import { CLAUDE_CODE, DEFAULT_CLAUDE_BASE_URL } from './client-profiles';

const PASSED_CLIENT_HEADERS = ['anthropic-beta', 'anthropic-dangerous-direct-browser-access'];

/**
 * Anthropic Messages. API keys go as `x-api-key` to Anthropic's own API and as Bearer to any
 * other base URL (Anthropic-compatible gateways), as CLIProxyAPI does. Subscription logins
 * (kind `oauth`) speak Claude Code's dialect: see claude-cloak.ts and the README.
 */
export const claudeAdapter: ProviderAdapter = {
  family: 'claude',
  upstreamFormat: 'claude',
  target(call: UpstreamCall, stream: boolean) {
    return call.kind === 'oauth' ? oauthTarget(call, stream) : apiKeyTarget(call);
  },
  prepareBody(call: UpstreamCall, body: UpstreamBody, _stream: boolean, target?: UpstreamTarget) {
    // API keys and Claude Code itself: the body goes as it is.
    if (call.kind !== 'oauth' || isClaudeCodeClient(call.route.headers['user-agent'])) return body;
    const request = tryParseJsonObject(body);
    if (!request) return body;
    const betas = takeBodyBetas(request);
    if (betas.length > 0 && target)
      target.headers['anthropic-beta'] = mergeBetas(target.headers['anthropic-beta'], betas);
    cloakClaudeBody(request, identityOf(call), call.route.action === RouteActions.countTokens);
    return Buffer.from(JSON.stringify(request));
  },
};

function messagesPath(call: UpstreamCall): string {
  return call.route.action === RouteActions.countTokens ? '/v1/messages/count_tokens' : '/v1/messages';
}

function apiKeyTarget(call: UpstreamCall): UpstreamTarget {
  const token = secretToken(call.secret);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': call.route.headers['anthropic-version'] ?? CLAUDE_CODE.anthropicVersion,
  };
  for (const name of PASSED_CLIENT_HEADERS) {
    const value = call.route.headers[name];
    if (value) headers[name] = value;
  }
  const base = call.baseUrl || DEFAULT_CLAUDE_BASE_URL;
  if (isAnthropicApi(base)) headers['x-api-key'] = token;
  else headers.authorization = `Bearer ${token}`;
  return { url: joinUrl(base, messagesPath(call)), headers: { ...headers, ...call.headers } };
}

/** Anthropic's first-party API (https, api.anthropic.com, default port, no user info): CLIProxyAPI's rule for x-api-key. */
export function isAnthropicApi(baseUrl: string): boolean {
  if (baseUrl === DEFAULT_CLAUDE_BASE_URL) return true;
  try {
    const url = new URL(baseUrl);
    return (
      url.protocol === 'https:' &&
      url.hostname.toLowerCase() === 'api.anthropic.com' &&
      (url.port === '' || url.port === '443') &&
      !url.username &&
      !url.password
    );
  } catch {
    return false;
  }
}

/** A subscription token: the beta Messages endpoint with Bearer auth and Claude Code's identity headers. */
function oauthTarget(call: UpstreamCall, stream: boolean): UpstreamTarget {
  const token = secretToken(call.secret);
  const client = call.route.headers;
  const claudeCode = isClaudeCodeClient(client['user-agent']);
  const countTokens = call.route.action === RouteActions.countTokens;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${token}`,
    'anthropic-version': (claudeCode && client['anthropic-version']) || CLAUDE_CODE.anthropicVersion,
    'anthropic-beta': mergeBetas(client['anthropic-beta'], [], countTokens),
    'x-app': 'cli',
    'user-agent': claudeCode ? client['user-agent']! : CLAUDE_CODE.userAgent,
    ...CLAUDE_CODE.stainless,
    'x-claude-code-session-id': (claudeCode && client['x-claude-code-session-id']) || claudeSessionId(identityOf(call)),
    'x-client-request-id': randomUUID(),
    accept: stream ? 'text/event-stream' : 'application/json',
  };
  if (!countTokens) headers['x-stainless-timeout'] = CLAUDE_CODE.stainlessTimeout;
  const base = process.env.CLAUDE_BASE_URL || call.baseUrl || DEFAULT_CLAUDE_BASE_URL;
  // The upstream client does not decompress: ask for plain bytes (streams must be anyway).
  return {
    url: `${joinUrl(base, messagesPath(call))}?beta=true`,
    headers: { ...headers, ...call.headers, 'accept-encoding': 'identity' },
  };
}

function identityOf(call: UpstreamCall): ClaudeIdentity {
  const accountUuid = call.secret.accountUuid;
  return {
    credentialKey: call.credentialId ?? secretToken(call.secret),
    ...(typeof accountUuid === 'string' && accountUuid ? { accountUuid } : {}),
  };
}
