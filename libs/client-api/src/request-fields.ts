import { RouteActions, type ClientFormat, type RouteAction } from '@cpa/contracts';

export class BadRequestError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

export interface RequestFields {
  model: string;
  stream: boolean;
  json: Record<string, unknown>;
}

/**
 * The few fields routing needs, read from the parsed body with lean checks (the full
 * schema is the upstream's business). Gemini names model and streaming in the URL.
 */
export function readRequestFields(format: ClientFormat, raw: Buffer, urlModel?: string, urlStream = false): RequestFields {
  let json: unknown;
  try {
    json = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch (err) {
    throw new BadRequestError(`Invalid JSON body: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BadRequestError('Request body must be a JSON object');
  const body = json as Record<string, unknown>;
  if (format === 'gemini') {
    if (!urlModel) throw new BadRequestError('Model is required in the URL');
    return { model: urlModel, stream: urlStream, json: body };
  }
  if (typeof body.model !== 'string' || body.model.trim() === '') throw new BadRequestError('Field "model" is required');
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new BadRequestError('Field "stream" must be a boolean');
  return { model: body.model.trim(), stream: body.stream === true, json: body };
}

/** The query string of a request target, parsed. */
export function queryOf(url: string): URLSearchParams {
  const start = url.indexOf('?');
  return new URLSearchParams(start < 0 ? '' : url.slice(start + 1));
}

/** Which API's error format a path speaks, for errors raised before a handler runs. */
export function formatOfPath(url: string): ClientFormat {
  if (url.startsWith('/v1beta')) return 'gemini';
  if (url.startsWith('/v1/messages')) return 'claude';
  if (url.startsWith('/v1/responses')) return 'openai-responses';
  return 'openai-chat';
}

export interface GeminiCall {
  urlModel: string;
  urlStream: boolean;
  action?: RouteAction;
}

/**
 * Reads `{model}:{action}` of a Gemini POST route and its `alt` query: undefined for an
 * action the API does not have. Without `alt=sse` a Gemini stream is one JSON array.
 */
export function readGeminiCall(modelAction: string, query: URLSearchParams): GeminiCall | undefined {
  const separator = modelAction.lastIndexOf(':');
  if (separator <= 0) return undefined;
  // The router has already percent-decoded the path parameter; decoding again would
  // misread a literal '%' (and throw on a lone one).
  const urlModel = modelAction.slice(0, separator).replace(/^models\//, '');
  switch (modelAction.slice(separator + 1)) {
    case 'generateContent':
      return { urlModel, urlStream: false };
    case 'streamGenerateContent':
      return { urlModel, urlStream: true, action: query.get('alt') === 'sse' ? undefined : RouteActions.streamJsonArray };
    case 'countTokens':
      return { urlModel, urlStream: false, action: RouteActions.countTokens };
    default:
      return undefined;
  }
}
