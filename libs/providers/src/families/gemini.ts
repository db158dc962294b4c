import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

/** Gemini API (generativelanguage) with an API key. */
export const geminiAdapter: ProviderAdapter = {
  family: 'gemini',
  upstreamFormat: 'gemini',
  target(call: UpstreamCall, stream: boolean) {
    const action = call.route.action === 'countTokens' ? 'countTokens' : stream ? 'streamGenerateContent' : 'generateContent';
    const query = action === 'streamGenerateContent' ? '?alt=sse' : '';
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
