import { RouteActions } from '@cpa/contracts';
import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

const PASSED_CLIENT_HEADERS = ['anthropic-beta', 'anthropic-dangerous-direct-browser-access'];

export const claudeAdapter: ProviderAdapter = {
  family: 'claude',
  upstreamFormat: 'claude',
  target(call: UpstreamCall) {
    const token = secretToken(call.secret);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'anthropic-version': call.route.headers['anthropic-version'] ?? '2023-06-01',
    };
    for (const name of PASSED_CLIENT_HEADERS) {
      const value = call.route.headers[name];
      if (value) headers[name] = value;
    }
    if (call.kind === 'oauth') headers.authorization = `Bearer ${token}`;
    else headers['x-api-key'] = token;
    const path = call.route.action === RouteActions.countTokens ? '/v1/messages/count_tokens' : '/v1/messages';
    return { url: joinUrl(call.baseUrl || 'https://api.anthropic.com', path), headers: { ...headers, ...call.headers } };
  },
};
