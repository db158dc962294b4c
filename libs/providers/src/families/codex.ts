import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

/**
 * OpenAI Responses API with an API key (the Codex OAuth backend comes with the OAuth families).
 * Always called with streams, as the Codex backend requires; non-streaming clients get the
 * stream aggregated.
 */
export const codexAdapter: ProviderAdapter = {
  family: 'codex',
  upstreamFormat: 'openai-responses',
  streamingOnly: true,
  target(call: UpstreamCall) {
    return {
      url: joinUrl(call.baseUrl || 'https://api.openai.com/v1', '/responses'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secretToken(call.secret)}`, ...call.headers },
    };
  },
};
