import { ANTHROPIC_ERROR_TYPES, GOOGLE_RPC_STATUS, type ClientFormat } from '@cpa/contracts';

/**
 * Error bodies as the real upstream APIs send them, so routers can be tested against the
 * exact shapes they must parse (OpenAI's `error` object, Anthropic's typed error envelope,
 * Google's RPC status with RetryInfo).
 */
export interface UpstreamError {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'insufficient_quota', code: 'insufficient_quota', message: 'You exceeded your current quota.' },
  404: {
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: 'The model does not exist or you do not have access to it.',
  },
  429: {
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.',
  },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request.' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later.' },
};

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Invalid request.',
  401: 'Invalid authentication credentials.',
  403: 'Permission denied.',
  404: 'Not found.',
  429: 'Rate limit exceeded.',
  500: 'Internal server error.',
  529: 'Overloaded',
};

export type WireFormat = ClientFormat;

export function upstreamError(
  format: WireFormat,
  status: number,
  opts: { message?: string; retryAfterSeconds?: number } = {},
): UpstreamError {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const retry = opts.retryAfterSeconds;
  switch (format) {
    case 'claude': {
      if (retry !== undefined) headers['retry-after'] = String(retry);
      const type = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
      const message = opts.message ?? DEFAULT_MESSAGES[status] ?? `Error ${status}`;
      return { status, headers, body: { type: 'error', error: { type, message } } };
    }
    case 'gemini': {
      const message =
        opts.message ??
        (status === 429
          ? 'You exceeded your current quota, please check your plan and billing details.'
          : (DEFAULT_MESSAGES[status] ?? `Error ${status}`));
      const error: Record<string, unknown> = {
        code: status,
        message,
        status: GOOGLE_RPC_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'),
      };
      // Google signals the wait only in the body, as a google.rpc.RetryInfo detail.
      if (retry !== undefined) {
        error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retry}s` }];
      }
      return { status, headers, body: { error } };
    }
    default: {
      if (retry !== undefined) headers['retry-after'] = String(retry);
      const known = OPENAI_ERRORS[status] ?? {
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        code: null,
        message: `Error ${status}`,
      };
      const message =
        opts.message ??
        (status === 429 && retry !== undefined ? `${known.message} Please try again in ${retry}s.` : known.message);
      return { status, headers, body: { error: { message, type: known.type, param: null, code: known.code } } };
    }
  }
}
