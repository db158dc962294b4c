import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as anthropic from './anthropic';
import { claudeOAuthProblem } from './claude-oauth';
import { chatgptCodexProblem } from './codex-chatgpt';
import {
  type Conversation,
  fromAnthropic,
  fromGemini,
  fromOpenAIChat,
  fromOpenAICompletion,
  fromOpenAIResponses,
  planReply,
} from './conversation';
import { upstreamError, type WireFormat } from './upstream-errors';
import * as gemini from './gemini';
import * as chat from './openai-chat';
import * as responses from './openai-responses';
import type { EncodeContext } from './sse';
import type { MockBehavior, MockUpstream, MockUpstreamOptions, RecordedRequest } from './types';

type Json = Record<string, unknown>;

type Route =
  | { kind: 'chat' | 'completions' | 'responses' | 'messages' | 'count_tokens' }
  | { kind: 'gemini'; model: string; method: 'generateContent' | 'streamGenerateContent' | 'countTokens' }
  | { kind: 'models'; family: 'openai' | 'claude' | 'gemini' }
  | { kind: 'healthz' }
  | { kind: 'unknown' };

const DEFAULT_MODELS = ['gpt-4o-mini', 'claude-sonnet-4-6', 'gemini-2.5-flash'];
const DEFAULT_STREAM_CHUNKS = 4;
const GEMINI_PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

/** Routes by path suffix, so an upstream base URL with a prefix (e.g. /proxy/v1) still matches. */
function route(method: string, path: string, headers: IncomingMessage['headers']): Route {
  if (method === 'GET') {
    if (path === '/healthz') return { kind: 'healthz' };
    if (path.endsWith('/models')) {
      if (path.includes('v1beta')) return { kind: 'models', family: 'gemini' };
      return { kind: 'models', family: headers['anthropic-version'] ? 'claude' : 'openai' };
    }
    return { kind: 'unknown' };
  }
  if (method !== 'POST') return { kind: 'unknown' };
  if (path.endsWith('/chat/completions')) return { kind: 'chat' };
  if (path.endsWith('/completions')) return { kind: 'completions' };
  if (path.endsWith('/responses')) return { kind: 'responses' };
  if (path.endsWith('/messages/count_tokens')) return { kind: 'count_tokens' };
  if (path.endsWith('/messages')) return { kind: 'messages' };
  const m = GEMINI_PATH.exec(path);
  if (m) return { kind: 'gemini', model: decodeURIComponent(m[1]), method: m[2] as 'generateContent' };
  return { kind: 'unknown' };
}

function formatOf(r: Route): WireFormat {
  switch (r.kind) {
    case 'completions':
      return 'openai-completions';
    case 'responses':
      return 'openai-responses';
    case 'messages':
    case 'count_tokens':
      return 'claude';
    case 'gemini':
      return 'gemini';
    case 'models':
      return r.family === 'claude' ? 'claude' : r.family === 'gemini' ? 'gemini' : 'openai-chat';
    default:
      return 'openai-chat';
  }
}

const header = (h: IncomingMessage['headers'], name: string): string => {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

const bearer = (h: IncomingMessage['headers']): string => {
  const auth = header(h, 'authorization');
  return auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
};

/** The key as the real API reads it: OpenAI only Bearer; Anthropic x-api-key or OAuth Bearer; Gemini header, ?key= or Bearer. */
function apiKeyOf(format: WireFormat, h: IncomingMessage['headers'], query: URLSearchParams): string {
  switch (format) {
    case 'claude':
      return header(h, 'x-api-key') || bearer(h);
    case 'gemini':
      return header(h, 'x-goog-api-key') || query.get('key') || bearer(h);
    default:
      return bearer(h);
  }
}

function missingKeyError(format: WireFormat) {
  switch (format) {
    case 'claude':
      return upstreamError(format, 401, { message: 'x-api-key header is required' });
    case 'gemini':
      return upstreamError(format, 403, {
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      });
    default:
      return upstreamError(format, 401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      });
  }
}

function invalidKeyError(format: WireFormat) {
  switch (format) {
    case 'claude':
      return upstreamError(format, 401, { message: 'invalid x-api-key' });
    case 'gemini':
      return upstreamError(format, 400, { message: 'API key not valid. Please pass a valid API key.' });
    default:
      return upstreamError(format, 401);
  }
}

/** The few required fields the real APIs reject requests without (checked so translators get caught). */
function requestProblem(r: Route, body: Json): string | undefined {
  switch (r.kind) {
    case 'chat':
      if (typeof body.model !== 'string') return 'you must provide a model parameter';
      if (!Array.isArray(body.messages)) return "Missing required parameter: 'messages'.";
      return undefined;
    case 'completions':
    case 'responses':
      return typeof body.model === 'string' ? undefined : 'you must provide a model parameter';
    case 'messages':
      if (typeof body.model !== 'string') return 'model: Field required';
      if (!Array.isArray(body.messages)) return 'messages: Field required';
      if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
      return undefined;
    case 'count_tokens':
      return Array.isArray(body.messages) ? undefined : 'messages: Field required';
    case 'gemini':
      if (r.method === 'countTokens' && body.generateContentRequest) return undefined;
      return Array.isArray(body.contents) ? undefined : '* GenerateContentRequest.contents: contents is not specified';
    default:
      return undefined;
  }
}

const hasFailure = (b: MockBehavior) =>
  (b.status !== undefined && b.status >= 400) || !!b.closeBeforeFirstByte || !!b.closeMidStream || !!b.emptyStream;

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = JSON_HEADERS,
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function sendFrames(
  res: ServerResponse,
  frames: string[],
  headers: Record<string, string>,
  b: MockBehavior,
  failing: boolean,
) {
  res.writeHead(200, headers);
  if (failing && b.emptyStream) return void res.end();
  // A cut comes after at least one event, so the client has seen the first payload byte.
  const cut = failing && b.closeMidStream ? Math.max(1, Math.floor(frames.length / 2)) : frames.length;
  const delay = b.chunkDelayMs ?? 0;
  // Without a delay everything goes out in one write: cheap at benchmark rates.
  const writes = delay === 0 ? [frames.slice(0, cut).join('')] : frames.slice(0, cut);
  for (let i = 0; i < writes.length; i++) {
    if (i > 0) await sleep(delay);
    if (res.destroyed) return;
    if (i < writes.length - 1) res.write(writes[i]);
    else if (cut < frames.length) cutAfter(res, writes[i]);
    else res.end(writes[i]);
  }
}

/** Writes `data` and destroys the socket once it is flushed, so the client sees a cut after real bytes. */
function cutAfter(res: ServerResponse, data: string): void {
  if (res.destroyed) return;
  res.write(data, () => res.destroy());
}

function sendBody(
  res: ServerResponse,
  body: unknown,
  b: MockBehavior,
  failing: boolean,
  extraHeaders: Record<string, string>,
) {
  if (!(failing && b.closeMidStream)) {
    sendJson(res, 200, body, { ...JSON_HEADERS, ...extraHeaders });
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(200, { ...JSON_HEADERS, ...extraHeaders, 'content-length': Buffer.byteLength(text) });
  cutAfter(res, text.slice(0, Math.floor(text.length / 2)));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

/**
 * Starts an HTTP server that answers like the OpenAI, Anthropic and Gemini APIs, echoing
 * the last user text so tests can see what reached upstream, with per-key scripted failures.
 */
export async function startMockUpstream(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const record = opts.record ?? true;
  const accepted = opts.acceptKeys ? new Set(opts.acceptKeys) : undefined;
  const models = opts.models ?? DEFAULT_MODELS;
  const requests: RecordedRequest[] = [];
  const counts = new Map<string, number>();
  const behaviors = new Map<string, MockBehavior>();
  const failures = new Map<string, number>();
  let seq = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';
    const r = route(method, path, req.headers);
    if (r.kind === 'healthz') return sendJson(res, 200, { status: 'ok' });
    const format = formatOf(r);
    const apiKey = r.kind === 'unknown' ? bearer(req.headers) : apiKeyOf(format, req.headers, query);
    let body: unknown;
    let parseError = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        parseError = true;
      }
    }
    counts.set(apiKey, (counts.get(apiKey) ?? 0) + 1);
    if (record) {
      requests.push({
        method,
        path,
        query: Object.fromEntries(query),
        headers: { ...req.headers },
        apiKey,
        body,
        rawBody,
        format: r.kind === 'models' ? 'models' : r.kind === 'unknown' ? 'unknown' : format,
      });
    }

    // Subscription dialects (Claude OAuth tokens, the ChatGPT Codex backend) have rules of their own.
    const dialect = claudeOAuthProblem(path, query, req.headers, body) ?? chatgptCodexProblem(path, req.headers, body);
    if (dialect) return sendJson(res, dialect.status, dialect.body, dialect.headers);
    if (r.kind === 'unknown')
      return sendJson(res, 404, {
        error: { message: `Unknown route ${method} ${path}`, type: 'invalid_request_error' },
      });
    const fail = (e: ReturnType<typeof upstreamError>) => sendJson(res, e.status, e.body, e.headers);
    if (apiKey === '') return fail(missingKeyError(format));
    if (accepted && !accepted.has(apiKey)) return fail(invalidKeyError(format));
    if (format === 'claude' && r.kind !== 'models' && !header(req.headers, 'anthropic-version')) {
      return fail(upstreamError(format, 400, { message: 'anthropic-version: header is required' }));
    }

    const b = behaviors.get(apiKey) ?? behaviors.get('*') ?? {};
    let failing = false;
    if (hasFailure(b)) {
      const used = failures.get(apiKey) ?? 0;
      if (b.failTimes === undefined || used < b.failTimes) {
        failing = true;
        failures.set(apiKey, used + 1);
      }
    }
    if (b.delayMs) await sleep(b.delayMs);
    if (failing && b.closeBeforeFirstByte) {
      req.socket.destroy();
      return;
    }
    if (failing && b.status !== undefined && b.status >= 400) {
      if (b.body !== undefined) return sendJson(res, b.status, b.body, { ...JSON_HEADERS, ...b.headers });
      const e = upstreamError(format, b.status, { retryAfterSeconds: b.retryAfterSeconds });
      return sendJson(res, e.status, e.body, { ...e.headers, ...b.headers });
    }
    if (b.status !== undefined && b.status < 400 && b.body !== undefined) {
      return sendJson(res, b.status, b.body, { ...JSON_HEADERS, ...b.headers });
    }

    if (r.kind === 'models') {
      const created = 1_700_000_000;
      const list =
        r.family === 'gemini'
          ? gemini.geminiModelList(models)
          : r.family === 'claude'
            ? anthropic.anthropicModelList(models, new Date(created * 1000).toISOString())
            : chat.openAIModelList(models, created);
      return sendJson(res, 200, list);
    }

    if (parseError || (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))) {
      return fail(upstreamError(format, 400, { message: 'We could not parse the JSON body of your request.' }));
    }
    const json = (body ?? {}) as Json;
    const problem = requestProblem(r, json);
    if (problem) return fail(upstreamError(format, 400, { message: problem }));

    let conv: Conversation;
    switch (r.kind) {
      case 'chat':
        conv = fromOpenAIChat(json);
        break;
      case 'completions':
        conv = fromOpenAICompletion(json);
        break;
      case 'responses':
        conv = fromOpenAIResponses(json);
        break;
      case 'gemini':
        conv = fromGemini(r.model, (json.generateContentRequest as Json | undefined) ?? json);
        break;
      default:
        conv = fromAnthropic(json);
    }
    if (r.kind === 'count_tokens') return sendJson(res, 200, { input_tokens: conv.promptWords });
    if (r.kind === 'gemini' && r.method === 'countTokens') {
      return sendJson(res, 200, {
        totalTokens: conv.promptWords,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: conv.promptWords }],
      });
    }

    const plan = planReply(conv, b.reply);
    const ctx: EncodeContext = {
      id: `mock${++seq}`,
      created: Math.floor(Date.now() / 1000),
      model: conv.model,
      streamChunks: b.streamChunks ?? DEFAULT_STREAM_CHUNKS,
    };
    const extra = { ...b.headers };
    if (format === 'claude') extra['request-id'] = `req_${ctx.id}`;
    else if (format !== 'gemini') extra['x-request-id'] = `req_${ctx.id}`;
    const sse = { ...SSE_HEADERS, ...extra };
    const streamOpts = json.stream_options as Json | undefined;
    const includeUsage = streamOpts?.include_usage === true;

    switch (r.kind) {
      case 'chat':
        return json.stream === true
          ? sendFrames(res, chat.chatCompletionFrames(ctx, plan, includeUsage), sse, b, failing)
          : sendBody(res, chat.chatCompletion(ctx, plan), b, failing, extra);
      case 'completions':
        return json.stream === true
          ? sendFrames(res, chat.textCompletionFrames(ctx, plan, includeUsage), sse, b, failing)
          : sendBody(res, chat.textCompletion(ctx, plan), b, failing, extra);
      case 'responses':
        return json.stream === true
          ? sendFrames(res, responses.responseFrames(ctx, json, plan), sse, b, failing)
          : sendBody(res, responses.response(ctx, json, plan), b, failing, extra);
      case 'gemini': {
        if (r.method === 'generateContent') return sendBody(res, gemini.generateContent(ctx, plan), b, failing, extra);
        const chunks = gemini.generateContentChunks(ctx, plan);
        return query.get('alt') === 'sse'
          ? sendFrames(
              res,
              chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`),
              sse,
              b,
              failing,
            )
          : sendFrames(res, gemini.jsonArrayFrames(chunks), { ...JSON_HEADERS, ...extra }, b, failing);
      }
      default:
        return json.stream === true
          ? sendFrames(res, anthropic.messageFrames(ctx, plan), sse, b, failing)
          : sendBody(res, anthropic.message(ctx, plan), b, failing, extra);
    }
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `mock upstream failure: ${String(err)}` } });
      else res.destroy();
    });
  });
  // Long keep-alive so benchmark clients reuse connections instead of reconnecting.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    port,
    requests,
    setBehavior(apiKey, behavior) {
      behaviors.set(apiKey, behavior);
      failures.delete(apiKey);
    },
    clearBehavior(apiKey) {
      behaviors.delete(apiKey);
      failures.delete(apiKey);
    },
    countByKey: () => Object.fromEntries(counts),
    reset() {
      requests.length = 0;
      counts.clear();
      behaviors.clear();
      failures.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
