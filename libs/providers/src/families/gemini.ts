import { RouteActions } from '@cpa/contracts';
import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

/** Gemini API (generativelanguage) with an API key. */
export const geminiAdapter: ProviderAdapter = {
  family: 'gemini',
  upstreamFormat: 'gemini',
  target(call: UpstreamCall, stream: boolean) {
    const action = call.route.action === RouteActions.countTokens ? 'countTokens' : stream ? 'streamGenerateContent' : 'generateContent';
    // A Gemini client that asked for the JSON-array stream gets exactly that passed through.
    const jsonArray = call.format === call.route.clientFormat && call.route.action === RouteActions.streamJsonArray;
    const query = action === 'streamGenerateContent' && !jsonArray ? '?alt=sse' : '';
    const model = encodeURIComponent(call.upstreamModel);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...call.headers };
    if (call.kind === 'oauth') headers.authorization = `Bearer ${secretToken(call.secret)}`;
    else headers['x-goog-api-key'] = secretToken(call.secret);
    return {
      url: joinUrl(call.baseUrl || 'https://generativelanguage.googleapis.com', `/v1beta/models/${model}:${action}${query}`),
      headers,
    };
  },
};
