import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { secretToken } from '../provider-adapter';
import { unwrapCodeAssist } from '../response-unwrap';
import { ANTIGRAVITY_USER_AGENT, antigravityBases, codeAssistUrl, projectOf, wrapAntigravity } from './code-assist';

/**
 * Antigravity logins (Google account): Cloud Code Assist with Antigravity's identity. It
 * serves Gemini and Claude model names alike, all in the Gemini wire format. Base URLs are
 * tried in order (see `antigravityBases`) when one is unreachable or rate limited.
 */
export const antigravityAdapter: ProviderAdapter = {
  family: 'antigravity',
  upstreamFormat: 'gemini',
  secretIncomplete: (secret) => projectOf(secret) === '',
  target(call: UpstreamCall, stream: boolean) {
    const [first, ...rest] = antigravityBases(call.baseUrl).map((base) => codeAssistUrl(base, call, stream));
    return {
      url: first,
      fallbackUrls: rest,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secretToken(call.secret)}`,
        'user-agent': ANTIGRAVITY_USER_AGENT,
        ...call.headers,
      },
    };
  },
  prepareBody: (call, body) => wrapAntigravity(call, body),
  unwrapResponse: unwrapCodeAssist,
};
