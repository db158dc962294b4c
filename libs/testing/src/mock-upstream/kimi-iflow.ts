import { createHmac, timingSafeEqual } from 'node:crypto';
import { fromOpenAIChat, planReply } from './conversation';
import { upstreamError } from './upstream-errors';
import { bearerOf, header, isObject, startGoogleServer, type GoogleReply, type GoogleRequest } from './google-http';
import * as chat from './openai-chat';
import type { EncodeContext } from './sse';

/**
 * The OpenAI-chat upstreams of the Kimi and iFlow logins, each with the client rules its API
 * enforces, so an answer from them proves the request carried the family's auth and headers:
 *
 * - Kimi Code (`{base}/v1/chat/completions`, base `.../coding` like https://api.kimi.com/coding):
 *   a live access token from the login's token endpoint (`verifyToken`), Kimi CLI's User-Agent,
 *   platform and version, and the device headers, the device id being the login's;
 * - iFlow (`{base}/chat/completions`, base `.../v1` like https://apis.iflow.cn/v1): one of the
 *   accounts' API keys as Bearer (never the OAuth access token), `User-Agent: iFlow-Cli`, a
 *   `session-<uuid>` session id, a millisecond timestamp within `maxSkewMs` of now, and
 *   `x-iflow-signature` = hex HMAC-SHA256 keyed with the API key over
 *   `iFlow-Cli:<session-id>:<timestamp>`, recomputed here.
 *
 * Both answer errors in OpenAI's shape and only know the model ids of their own API.
 */
export interface ChatSubscriptionMock {
  /** The base URL to configure (KIMI_BASE_URL / IFLOW_BASE_URL). */
  readonly baseUrl: string;
  /** Requests that passed authentication, in order. */
  readonly requests: GoogleRequest[];
  /** Every request received, refused ones included, with the status it got. */
  readonly received: { request: GoogleRequest; status: number }[];
  reset(): void;
  close(): Promise<void>;
}

export interface KimiMockOptions {
  verifyToken(token: string): 'valid' | 'expired' | 'unknown';
  /** The device id a token's login was made with; a request from another device is refused. */
  deviceIdOf?(token: string): string | undefined;
  /** Model ids the API knows (Kimi's own, without CLIProxyAPI's `kimi-` prefix). */
  models?: string[];
}

export interface IFlowMockOptions {
  apiKeys: string[];
  /** How far x-iflow-timestamp may be from now (default 5 minutes). */
  maxSkewMs?: number;
  models?: string[];
}

export const KIMI_MOCK_MODELS = [
  'k2',
  'k2-thinking',
  'k2.5',
  'k2.6',
  'kimi-for-coding',
  'kimi-for-coding-highspeed',
  'k3',
  'k3-256k',
];
export const IFLOW_MOCK_MODELS = [
  'qwen3-coder-plus',
  'qwen3-max',
  'glm-4.6',
  'kimi-k2',
  'deepseek-v3.2',
  'deepseek-r1',
];

/** Each API's base path (what the base URL ends with) and the chat path under it. */
const KIMI_ROUTE = { base: '/coding', chat: '/coding/v1/chat/completions' };
const IFLOW_ROUTE = { base: '/v1', chat: '/v1/chat/completions' };
const SESSION_ID = /^session-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const openaiError = (status: number, message?: string): GoogleReply => {
  const e = upstreamError('openai-chat', status, message === undefined ? {} : { message });
  return { status: e.status, headers: e.headers, body: e.body };
};

/** Kimi's refusal of a request's identity, or undefined when it may pass. */
function kimiProblem(req: GoogleRequest, options: KimiMockOptions): GoogleReply | undefined {
  const token = bearerOf(req);
  if (!token) return openaiError(401, 'Missing Authorization header');
  const state = options.verifyToken(token);
  if (state === 'expired') return openaiError(401, 'The access token has expired');
  if (state !== 'valid') return openaiError(401, 'Invalid Authentication');
  if (!/^KimiCLI\/\d+\.\d+\.\d+$/.test(header(req, 'user-agent')))
    return openaiError(403, 'Kimi For Coding is only available for Coding Agents');
  if (header(req, 'x-msh-platform') !== 'kimi_cli') return openaiError(400, 'invalid X-Msh-Platform header');
  for (const name of ['x-msh-version', 'x-msh-device-name', 'x-msh-device-model', 'x-msh-device-id']) {
    if (!header(req, name).trim()) return openaiError(400, `missing ${name} header`);
  }
  const expected = options.deviceIdOf?.(token);
  if (expected !== undefined && header(req, 'x-msh-device-id') !== expected)
    return openaiError(401, 'device does not match the login');
  return undefined;
}

/** iFlow's refusal of a request's key or signature, or undefined when it may pass. */
function iflowProblem(req: GoogleRequest, options: IFlowMockOptions): GoogleReply | undefined {
  const key = bearerOf(req);
  if (!key) return openaiError(401, 'Missing API key');
  if (!options.apiKeys.includes(key)) return openaiError(401, 'Invalid API key');
  const userAgent = header(req, 'user-agent');
  if (userAgent !== 'iFlow-Cli') return openaiError(403, 'client not allowed');
  const sessionId = header(req, 'session-id');
  if (!SESSION_ID.test(sessionId)) return openaiError(400, 'invalid session-id header');
  const timestamp = header(req, 'x-iflow-timestamp');
  if (!/^\d{13}$/.test(timestamp)) return openaiError(400, 'invalid x-iflow-timestamp header');
  if (Math.abs(Date.now() - Number(timestamp)) > (options.maxSkewMs ?? 5 * 60_000))
    return openaiError(401, 'request timestamp expired');
  const expected = createHmac('sha256', key).update(`${userAgent}:${sessionId}:${timestamp}`).digest();
  const sent = Buffer.from(header(req, 'x-iflow-signature'), 'hex');
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected))
    return openaiError(401, 'signature verification failed');
  return undefined;
}

function chatAnswer(req: GoogleRequest, models: readonly string[], id: string): GoogleReply {
  if (!isObject(req.body)) return openaiError(400, 'We could not parse the JSON body of your request.');
  const body = req.body;
  if (typeof body.model !== 'string') return openaiError(400, 'you must provide a model parameter');
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return openaiError(400, "Missing required parameter: 'messages'.");
  if (!models.includes(body.model)) return openaiError(404, `Not found the model ${body.model} or Permission denied`);
  const plan = planReply(fromOpenAIChat(body), undefined);
  const ctx: EncodeContext = { id, created: Math.floor(Date.now() / 1000), model: body.model, streamChunks: 3 };
  if (body.stream !== true) return { status: 200, body: chat.chatCompletion(ctx, plan) };
  const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    chunks: chat.chatCompletionFrames(ctx, plan, includeUsage),
  };
}

async function startChatMock(
  prefix: string,
  route: { base: string; chat: string },
  models: readonly string[],
  problem: (req: GoogleRequest) => GoogleReply | undefined,
): Promise<ChatSubscriptionMock> {
  const requests: GoogleRequest[] = [];
  const received: ChatSubscriptionMock['received'] = [];
  let seq = 0;
  const answer = (req: GoogleRequest): GoogleReply => {
    if (req.method !== 'POST' || req.path !== route.chat)
      return openaiError(404, `Unknown route ${req.method} ${req.path}`);
    const refused = problem(req);
    if (refused) return refused;
    requests.push(req);
    return chatAnswer(req, models, `${prefix}${++seq}`);
  };
  const server = await startGoogleServer((req) => {
    const reply = answer(req);
    received.push({ request: req, status: reply.status });
    return reply;
  });
  return {
    baseUrl: `${server.url}${route.base}`,
    requests,
    received,
    reset() {
      requests.length = 0;
      received.length = 0;
    },
    close: () => server.close(),
  };
}

export function startKimiMock(options: KimiMockOptions): Promise<ChatSubscriptionMock> {
  return startChatMock('kimi', KIMI_ROUTE, options.models ?? KIMI_MOCK_MODELS, (req) => kimiProblem(req, options));
}

export function startIFlowMock(options: IFlowMockOptions): Promise<ChatSubscriptionMock> {
  return startChatMock('iflow', IFLOW_ROUTE, options.models ?? IFLOW_MOCK_MODELS, (req) => iflowProblem(req, options));
}
