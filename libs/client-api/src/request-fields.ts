import { RouteActions, type BodyLayout, type ClientFormat, type RouteAction } from '@cpa/contracts';
import {
  JsonScanError,
  layoutOf,
  readJsonBoolean,
  readJsonString,
  ROUTED_MEMBERS,
  scanTopLevelMembers,
} from '@cpa/formats';

export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * Bodies from this size on carry the gateway's scan to the executor: below it, scanning
 * again (about 2 µs per KB) costs less than the layout's bytes through three hops.
 */
export const LAYOUT_MIN_BYTES = 4 * 1024;

export interface RequestFields {
  model: string;
  stream: boolean;
  /** The scan, for the executor to reuse (`RouteRequest.bodyLayout`); absent for an empty body or repeated members. */
  layout?: BodyLayout;
}

/**
 * The few fields routing needs, found in the body's bytes (`scanTopLevelMembers`) rather
 * than by parsing it: the gateway never turns a 100 KB conversation into JavaScript
 * strings for two fields. The body's JSON structure is still checked; the full schema is
 * the upstream's business. Gemini names model and streaming in the URL.
 */
export function readRequestFields(
  format: ClientFormat,
  raw: Buffer,
  urlModel?: string,
  urlStream = false,
): RequestFields {
  let model: string | undefined;
  let stream: boolean | undefined;
  let streamGiven = false;
  let layout: BodyLayout | undefined;
  if (raw.length > 0) {
    try {
      const scan = scanTopLevelMembers(raw, ROUTED_MEMBERS);
      if (!scan.isObject) throw new BadRequestError('Request body must be a JSON object');
      if (raw.length >= LAYOUT_MIN_BYTES) layout = layoutOf(raw, scan, ROUTED_MEMBERS);
      const modelSpan = scan.spans.get('model');
      const streamSpan = scan.spans.get('stream');
      model = modelSpan && readJsonString(raw, modelSpan);
      streamGiven = streamSpan !== undefined;
      stream = streamSpan && readJsonBoolean(raw, streamSpan);
    } catch (err) {
      if (err instanceof JsonScanError) throw new BadRequestError(`Invalid JSON body: ${err.message}`);
      throw err;
    }
  }
  if (format === 'gemini') {
    if (!urlModel) throw new BadRequestError('Model is required in the URL');
    return { model: urlModel, stream: urlStream, layout };
  }
  if (model === undefined || model.trim() === '') throw new BadRequestError('Field "model" is required');
  if (streamGiven && stream === undefined) throw new BadRequestError('Field "stream" must be a boolean');
  return { model: model.trim(), stream: stream === true, layout };
}

/**
 * The whole body as a JSON object, for what needs more than the routing fields (session
 * affinity hashes the first messages); only called when that is switched on.
 */
export function parseRequestBody(raw: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch (err) {
    throw new BadRequestError(`Invalid JSON body: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new BadRequestError('Request body must be a JSON object');
  return json as Record<string, unknown>;
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
      return {
        urlModel,
        urlStream: true,
        action: query.get('alt') === 'sse' ? undefined : RouteActions.streamJsonArray,
      };
    case 'countTokens':
      return { urlModel, urlStream: false, action: RouteActions.countTokens };
    default:
      return undefined;
  }
}
