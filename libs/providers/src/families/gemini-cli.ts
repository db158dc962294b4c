import type { ProviderAdapter, UpstreamCall } from '../provider-adapter';
import { secretToken } from '../provider-adapter';
import { unwrapCodeAssist } from '../response-unwrap';
import {
  CODE_ASSIST_BASE_URL,
  codeAssistUrl,
  GEMINI_CLI_API_CLIENT,
  geminiCliUserAgent,
  wrapGeminiCli,
} from './code-assist';

/**
 * Gemini CLI logins (Google account + Code Assist project): Cloud Code Assist with the
 * Gemini CLI's identity. Base URL: the credential's, else GEMINI_CLI_BASE_URL, else Google's.
 */
export const geminiCliAdapter: ProviderAdapter = {
  family: 'gemini-cli',
  upstreamFormat: 'gemini',
  target(call: UpstreamCall, stream: boolean) {
    const base = call.baseUrl || process.env.GEMINI_CLI_BASE_URL?.trim() || CODE_ASSIST_BASE_URL;
    return {
      url: codeAssistUrl(base, call, stream),
      headers: {
        'content-type': 'application/json',
        accept: stream ? 'text/event-stream' : 'application/json',
        authorization: `Bearer ${secretToken(call.secret)}`,
        'user-agent': geminiCliUserAgent(call.upstreamModel),
        'x-goog-api-client': GEMINI_CLI_API_CLIENT,
        ...call.headers,
      },
    };
  },
  prepareBody: (call, body) => wrapGeminiCli(call, body),
  unwrapResponse: unwrapCodeAssist,
};
