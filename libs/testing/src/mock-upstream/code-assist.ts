import { randomBytes } from 'node:crypto';
import { fromGemini, planReply } from './conversation';
import * as gemini from './gemini';
import {
  bearerOf,
  googleError,
  header,
  INVALID_CREDENTIALS,
  isObject,
  MISSING_CREDENTIALS,
  startGoogleServer,
  unknownFields,
  type GoogleReply,
  type GoogleRequest,
  type Json,
} from './google-http';
import type { EncodeContext } from './sse';
import type { ScriptedReply } from './types';

/** Who called Cloud Code Assist, told by the User-Agent. */
export type CodeAssistClient = 'gemini-cli' | 'antigravity';

export interface CodeAssistRequest extends GoogleRequest {
  client: CodeAssistClient;
}

export interface CodeAssistMockOptions {
  /** Whether a Bearer token is live (MockGoogleTokenServer.verify). */
  verifyToken(token: string): 'valid' | 'expired' | 'unknown';
  /** Projects the accounts may use; others are refused. */
  projects: string[];
  /** What loadCodeAssist reports as the account's project. */
  loadCodeAssistProject?: string;
}

export interface CodeAssistMock {
  readonly url: string;
  readonly requests: CodeAssistRequest[];
  /** The next `times` generate calls fail with this status (429s carry RetryInfo). */
  failNext(status: number, options?: { times?: number; retryAfterSeconds?: number }): void;
  /** What the model answers instead of echoing the last user text. */
  reply?: ScriptedReply;
  reset(): void;
  close(): Promise<void>;
}

const METHOD = /^\/v1internal:(generateContent|streamGenerateContent|countTokens|loadCodeAssist)$/;
const GEMINI_CLI_UA = /^GeminiCLI\/\d+\.\d+\.\d+\/([^ ]+) \((\w+); (\w+)\)$/;
const ANTIGRAVITY_UA = /^antigravity\/\d+\.\d+\.\d+ darwin\/arm64$/;
const REQUEST_ID = /^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Top-level fields of Code Assist's generate request (CaGenerateContentRequest and Antigravity's additions). */
const GENERATE_FIELDS = ['model', 'project', 'request', 'user_prompt_id', 'userAgent', 'requestType', 'requestId'];

/**
 * Cloud Code Assist (`cloudcode-pa.googleapis.com/v1internal`) as the Gemini CLI and
 * Antigravity reach it: Bearer tokens checked against the token mock, the wrapped body
 * (`{model, project, request}`, Antigravity's fields) and client identity headers checked,
 * answers wrapped as `{response, traceId}` in JSON, SSE (`alt=sse`) or a JSON array.
 */
export async function startCodeAssistMock(options: CodeAssistMockOptions): Promise<CodeAssistMock> {
  const requests: CodeAssistRequest[] = [];
  let failures: { status: number; times: number; retryAfterSeconds?: number } | undefined;
  let seq = 0;

  const mock: CodeAssistMock = {
    url: '',
    requests,
    failNext(status, opts = {}) {
      failures = { status, times: opts.times ?? 1, retryAfterSeconds: opts.retryAfterSeconds };
    },
    reset() {
      requests.length = 0;
      failures = undefined;
      mock.reply = undefined;
    },
    close: () => server.close(),
  };

  function identify(req: GoogleRequest, model: string | undefined): CodeAssistClient | GoogleReply {
    const ua = header(req, 'user-agent');
    const cli = GEMINI_CLI_UA.exec(ua);
    if (cli) {
      if (!header(req, 'x-goog-api-client')) return googleError(400, 'Gemini CLI requests must carry X-Goog-Api-Client.');
      if (model !== undefined && cli[1] !== model) return googleError(400, `User-Agent names model ${cli[1]}, request is for ${model}.`);
      return 'gemini-cli';
    }
    if (ANTIGRAVITY_UA.test(ua)) return 'antigravity';
    return googleError(400, `Unrecognised client: ${ua || '(no User-Agent)'}`);
  }

  function handle(req: GoogleRequest): GoogleReply {
    const method = METHOD.exec(req.path)?.[1];
    if (req.method !== 'POST' || !method) return googleError(404, `Method not found: ${req.method} ${req.path}`);
    const token = bearerOf(req);
    if (!token) return googleError(401, MISSING_CREDENTIALS);
    if (options.verifyToken(token) !== 'valid') return googleError(401, INVALID_CREDENTIALS);
    if (!isObject(req.body)) return googleError(400, 'Invalid JSON payload received. Expected an object.');
    const body = req.body;

    if (method === 'loadCodeAssist') {
      if (!isObject(body.metadata)) return googleError(400, 'metadata is required');
      const project = options.loadCodeAssistProject;
      return {
        status: 200,
        body: {
          currentTier: { id: 'standard-tier', name: 'Gemini Code Assist' },
          allowedTiers: [{ id: 'standard-tier', isDefault: true }],
          ...(project ? { cloudaicompanionProject: project } : {}),
        },
      };
    }

    if (method === 'countTokens') {
      const client = identify(req, undefined);
      if (typeof client !== 'string') return client;
      requests.push({ ...req, client });
      const problem = unknownFields(body, ['request']);
      if (problem) return problem;
      const inner = body.request;
      if (!isObject(inner) || !Array.isArray(inner.contents)) return googleError(400, 'request.contents is required');
      if ('safetySettings' in inner) return googleError(400, `Invalid JSON payload received. Unknown name "safetySettings" at 'request': Cannot find field.`);
      const conv = fromGemini(String(inner.model ?? ''), inner);
      // countTokens answers are not wrapped.
      return { status: 200, body: { totalTokens: conv.promptWords } };
    }

    const model = typeof body.model === 'string' ? body.model : undefined;
    const client = identify(req, model);
    if (typeof client !== 'string') return client;
    requests.push({ ...req, client });
    const problem = unknownFields(body, GENERATE_FIELDS);
    if (problem) return problem;
    if (!model) return googleError(400, 'model is required');
    if (typeof body.project !== 'string' || !body.project) return googleError(400, 'project is required');
    if (!options.projects.includes(body.project)) return googleError(403, `Permission denied on resource project ${body.project}.`);
    const inner = body.request;
    if (!isObject(inner) || !Array.isArray(inner.contents)) return googleError(400, 'request.contents is required');
    if (client === 'antigravity') {
      const wrong = antigravityProblem(body, inner);
      if (wrong) return googleError(400, wrong);
    } else if ('userAgent' in body || 'requestId' in body) {
      return googleError(400, 'userAgent and requestId are Antigravity fields');
    }

    if (failures && failures.times > 0) {
      failures.times--;
      return googleError(failures.status, failures.status === 429 ? 'Resource has been exhausted (e.g. check quota).' : `Error ${failures.status}`, {
        retryAfterSeconds: failures.retryAfterSeconds,
      });
    }

    const conv = fromGemini(model, inner);
    const plan = planReply(conv, mock.reply);
    const ctx: EncodeContext = { id: `ca${++seq}`, created: Math.floor(Date.now() / 1000), model, streamChunks: 3 };
    const traceId = randomBytes(8).toString('hex');
    if (method === 'generateContent') return { status: 200, body: { response: gemini.generateContent(ctx, plan), traceId } };
    const chunks = gemini.generateContentChunks(ctx, plan).map((chunk) => ({ response: chunk, traceId }));
    if (req.query.alt === 'sse') {
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, chunks: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`) };
    }
    return { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, chunks: gemini.jsonArrayFrames(chunks) };
  }

  const server = await startGoogleServer(handle);
  return Object.assign(mock, { url: server.url });
}

/** Antigravity's request fields, as its own client sends them. */
function antigravityProblem(body: Json, inner: Json): string | undefined {
  if (body.userAgent !== 'antigravity') return 'userAgent must be "antigravity"';
  if (body.requestType !== 'agent' && body.requestType !== 'image_gen') return 'requestType must be agent or image_gen';
  if (typeof body.requestId !== 'string' || (body.requestType === 'agent' && !REQUEST_ID.test(body.requestId))) return 'requestId must be agent-<uuid>';
  if (typeof inner.sessionId !== 'string' || !/^-\d+$/.test(inner.sessionId)) return 'request.sessionId is required';
  if ('safetySettings' in inner) return `Invalid JSON payload received. Unknown name "safetySettings" at 'request': Cannot find field.`;
  return undefined;
}
