import { RouteActions } from '@cpa/contracts';
import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

/**
 * The Gemini method of a call and its query: `countTokens`, `generateContent` or
 * `streamGenerateContent` (with `?alt=sse`, unless a Gemini client asked for the JSON-array
 * stream, which is then passed through as it is). Shared by every Gemini-format family.
 */
export function geminiMethod(call: UpstreamCall, stream: boolean): { action: string; query: string } {
  const action =
    call.route.action === RouteActions.countTokens
      ? 'countTokens'
      : stream
        ? 'streamGenerateContent'
        : 'generateContent';
  const jsonArray = call.format === call.route.clientFormat && call.route.action === RouteActions.streamJsonArray;
  return { action, query: action === 'streamGenerateContent' && !jsonArray ? '?alt=sse' : '' };
}

/** Gemini API (generativelanguage) with an API key. */
export const geminiAdapter: ProviderAdapter = {
  family: 'gemini',
  upstreamFormat: 'gemini',
  target(call: UpstreamCall, stream: boolean) {
    const { action, query } = geminiMethod(call, stream);
    const model = encodeURIComponent(call.upstreamModel);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...call.headers };
    if (call.kind === 'oauth') headers.authorization = `Bearer ${secretToken(call.secret)}`;
    else headers['x-goog-api-key'] = secretToken(call.secret);
    return {
      url: joinUrl(
        call.baseUrl || 'https://generativelanguage.googleapis.com',
        `/v1beta/models/${model}:${action}${query}`,
      ),
      headers,
    };
  },
};
