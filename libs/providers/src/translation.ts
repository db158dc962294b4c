import { RouteActions, type BodyLayout, type ClientFormat, type RouteRequest, type TokenUsage } from '@cpa/contracts';
import {
  codecFor,
  parseModelSuffix,
  readJsonBoolean,
  readJsonString,
  replaceTopLevelMembers,
  ROUTED_MEMBERS,
  scanFromLayout,
  scanTopLevelMembers,
  translateErrorBody,
  type TopLevelMembers,
  type Usage,
} from '@cpa/formats';
import { parseJsonObject, type ProviderAdapter, type UpstreamBody } from './provider-adapter';

/**
 * How the upstream answer becomes the client's answer:
 * - `relay-body` / `relay-stream`: same format, bytes go through untouched;
 * - `translate-body` / `translate-stream`: decode the upstream format, encode the client's (streams event by event);
 * - `aggregate`: the upstream streams (it only can), the client wants one JSON body;
 * - `synthesize-stream`: the upstream answered with one body, the client wants a stream.
 */
export type ResponseMode =
  'relay-body' | 'relay-stream' | 'translate-body' | 'translate-stream' | 'aggregate' | 'synthesize-stream';

export interface ExchangePlan {
  client: ClientFormat;
  /** The wire format spoken upstream for this request. */
  upstream: ClientFormat;
  /**
   * The request body goes through the codecs: the formats differ, or the model carries a
   * thinking suffix that must change the body. Otherwise the client's bytes are kept.
   */
  translateRequest: boolean;
  upstreamStream: boolean;
  response: ResponseMode;
  /** A Gemini client without alt=sse reads the stream as one JSON array. */
  jsonArray: boolean;
  /** Upstream model without its thinking suffix (the suffix is applied in the body). */
  upstreamModel: string;
}

export type AdapterTraits = Pick<
  ProviderAdapter,
  'upstreamFormat' | 'nativeFormats' | 'streamingOnly' | 'streamingUnsupported'
>;

/** The upstream format used for a client format: the client's own when the upstream speaks it natively. */
export function upstreamFormatFor(client: ClientFormat, adapter: AdapterTraits): ClientFormat {
  return client === adapter.upstreamFormat || adapter.nativeFormats?.includes(client) ? client : adapter.upstreamFormat;
}

export function hasThinkingSuffix(model: string): boolean {
  const s = parseModelSuffix(model);
  return s.effort !== undefined || s.budgetTokens !== undefined;
}

/** Decides translation and streaming for one attempt. Pure. */
export function planExchange(
  route: Pick<RouteRequest, 'clientFormat' | 'stream' | 'action'>,
  adapter: AdapterTraits,
  upstreamModel: string,
): ExchangePlan {
  const client = route.clientFormat;
  const upstream = upstreamFormatFor(client, adapter);
  const same = client === upstream;
  const upstreamStream = adapter.streamingOnly ? true : adapter.streamingUnsupported ? false : route.stream;
  let response: ResponseMode;
  if (route.stream) response = upstreamStream ? (same ? 'relay-stream' : 'translate-stream') : 'synthesize-stream';
  else response = upstreamStream ? 'aggregate' : same ? 'relay-body' : 'translate-body';
  return {
    client,
    upstream,
    translateRequest: !same || hasThinkingSuffix(upstreamModel),
    upstreamStream,
    response,
    jsonArray: client === 'gemini' && route.stream && route.action === RouteActions.streamJsonArray,
    upstreamModel: parseModelSuffix(upstreamModel).baseModel,
  };
}

/**
 * The client's request body for a same-format upstream: its exact bytes unless the model
 * name or the stream flag must change (Claude Code relies on exact cache_control and
 * signatures). A change is spliced into the bytes at the member's place
 * (`replaceTopLevelMembers`): a 100 KB conversation is not parsed and re-serialised for a
 * model name. A body that names one of these members twice goes through JSON.parse, which
 * keeps the last, so the upstream reads what this router read.
 */
export function rewriteRequestBody(
  format: ClientFormat,
  body: Buffer,
  change: { model?: string; stream?: boolean },
  layout?: BodyLayout,
): UpstreamBody {
  if (body.length === 0) return body;
  // The gateway's scan of these very bytes, when it fits them; otherwise scan here.
  let scan: TopLevelMembers | undefined = scanFromLayout(body, layout, ROUTED_MEMBERS);
  try {
    scan ??= scanTopLevelMembers(body, ROUTED_MEMBERS);
  } catch (err) {
    throw new Error(`request body is not JSON: ${(err as Error).message}`);
  }
  if (!scan.isObject) throw new Error('request body must be a JSON object');
  // Gemini names model and streaming in the URL.
  if (format === 'gemini') return body;
  if (scan.repeated) return rewriteParsedBody(format, body, change);
  const set = new Map<string, string>();
  const model = scan.spans.get('model');
  if (change.model !== undefined && model !== undefined && readJsonString(body, model) !== change.model)
    set.set('model', JSON.stringify(change.model));
  const stream = scan.spans.get('stream');
  if (
    change.stream !== undefined &&
    (stream !== undefined && readJsonBoolean(body, stream) === true) !== change.stream
  ) {
    set.set('stream', String(change.stream));
    if (change.stream && streamsReportUsageOnRequest(format)) set.set('stream_options', INCLUDE_USAGE);
  }
  return set.size > 0 ? replaceTopLevelMembers(body, scan, set) : body;
}

const INCLUDE_USAGE = JSON.stringify({ include_usage: true });

/** Streams only report usage on request in chat completions. */
function streamsReportUsageOnRequest(format: ClientFormat): boolean {
  return format === 'openai-chat' || format === 'openai-completions';
}

/** `rewriteRequestBody` through JSON.parse and JSON.stringify, for bodies whose bytes cannot be spliced safely. */
function rewriteParsedBody(format: ClientFormat, body: Buffer, change: { model?: string; stream?: boolean }): Buffer {
  const json = parseJsonObject(body);
  let changed = false;
  if (change.model !== undefined && 'model' in json && json.model !== change.model) {
    json.model = change.model;
    changed = true;
  }
  if (change.stream !== undefined && (json.stream === true) !== change.stream) {
    json.stream = change.stream;
    if (change.stream && streamsReportUsageOnRequest(format)) json.stream_options = { include_usage: true };
    changed = true;
  }
  return changed ? Buffer.from(JSON.stringify(json)) : body;
}

/** The body to send upstream for this plan. Throws when the client body cannot be decoded. */
export function upstreamRequestBody(
  plan: ExchangePlan,
  route: Pick<RouteRequest, 'model' | 'stream' | 'bodyLayout'>,
  body: Buffer,
  upstreamModelWithSuffix: string,
): UpstreamBody {
  if (!plan.translateRequest)
    return rewriteRequestBody(
      plan.client,
      body,
      { model: upstreamModelWithSuffix, stream: plan.upstreamStream },
      route.bodyLayout,
    );
  const canonical = codecFor(plan.client).decodeRequest(parseJsonObject(body), {
    model: route.model,
    stream: route.stream,
  });
  return Buffer.from(
    JSON.stringify(
      codecFor(plan.upstream).encodeRequest(canonical, { model: upstreamModelWithSuffix, stream: plan.upstreamStream }),
    ),
  );
}

/**
 * An upstream error body as the client should see it: the upstream's own JSON error is
 * re-expressed in the client's envelope; anything else (HTML from a proxy, empty) is kept.
 */
export function clientFailureBody(
  upstream: ClientFormat,
  client: ClientFormat,
  status: number,
  text: string,
): { body: string; translated: boolean } {
  if (upstream === client) return { body: text, translated: false };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { body: text, translated: false };
  }
  if (!json || typeof json !== 'object') return { body: text, translated: false };
  return { body: JSON.stringify(translateErrorBody(upstream, client, status, json)), translated: true };
}

export const SSE_CONTENT_TYPE = 'text/event-stream';
export const JSON_CONTENT_TYPE = 'application/json';

/** Content type of a response this plan produces in the client's format. */
export function clientContentType(plan: Pick<ExchangePlan, 'response' | 'jsonArray'>): string {
  const streamed =
    plan.response === 'relay-stream' || plan.response === 'translate-stream' || plan.response === 'synthesize-stream';
  return streamed && !plan.jsonArray ? SSE_CONTENT_TYPE : JSON_CONTENT_TYPE;
}

/** Canonical usage reduced to what attempt results carry. */
export function toTokenUsage(usage: Usage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  const out: TokenUsage = { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 };
  if (usage.cachedTokens !== undefined) out.cachedTokens = usage.cachedTokens;
  if (usage.reasoningTokens !== undefined) out.reasoningTokens = usage.reasoningTokens;
  return out;
}

/** The top-level members that hold a non-streamed response's usage, in every format. */
const USAGE_MEMBERS: readonly string[] = ['usage', 'usageMetadata', 'response'];

/**
 * Usage of a non-streamed response body in the given format; undefined when unreadable.
 * Only the usage members of an object body are parsed (found by `scanTopLevelMembers`): a
 * relayed completion is passed on as bytes, and turning all of its text into JavaScript
 * strings to read a few counters cost the executor more than the rest of the relay.
 */
export function usageOfBody(format: ClientFormat, body: Buffer | unknown): TokenUsage | undefined {
  try {
    return toTokenUsage(codecFor(format).usageOf(Buffer.isBuffer(body) ? usageMembersOf(body) : body));
  } catch {
    return undefined;
  }
}

/** An object holding only the body's usage members; the whole body parsed when it is not a plain object (a Gemini array). */
function usageMembersOf(body: Buffer): unknown {
  const scan = scanTopLevelMembers(body, USAGE_MEMBERS);
  if (!scan.isObject || scan.repeated) return JSON.parse(body.toString('utf8'));
  const members: Record<string, unknown> = {};
  for (const [name, span] of scan.spans) members[name] = JSON.parse(body.toString('utf8', span.start, span.end));
  return members;
}
