import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { joinUrl, secretToken } from '../provider-adapter';

/** Any OpenAI-compatible Chat Completions endpoint; base URLs include the version path (".../v1"). */
export const openAICompatAdapter: ProviderAdapter = {
  family: 'openai-compat',
  upstreamFormat: 'openai-chat',
  nativeFormats: ['openai-completions'],
  target(call: UpstreamCall) {
    const path = call.format === 'openai-completions' ? '/completions' : '/chat/completions';
    return {
      url: joinUrl(call.baseUrl || 'https://api.openai.com/v1', path),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secretToken(call.secret)}`,
        ...call.headers,
      },
    };
  },
};
