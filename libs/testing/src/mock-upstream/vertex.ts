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

export interface VertexRequest extends GoogleRequest {
  /** `service-account` (project path, Bearer) or `api-key` (publisher path, x-goog-api-key). */
  auth: 'service-account' | 'api-key';
  model: string;
}

export interface VertexMockOptions {
  /** Whether a Bearer token is live (MockGoogleTokenServer.verify). */
  verifyToken(token: string): 'valid' | 'expired' | 'unknown';
  /** Project -> location the service accounts may call. */
  projects: Record<string, string>;
  /** API keys accepted on the publisher path (Vertex express mode, vertex-api-key). */
  apiKeys: string[];
}

export interface VertexMock {
  readonly url: string;
  readonly requests: VertexRequest[];
  reset(): void;
  close(): Promise<void>;
}

const PROJECT_PATH =
  /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
const PUBLISHER_PATH =
  /^\/v1\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
/** GenerateContentRequest fields on Vertex (snake_case spellings are accepted by proto JSON too). */
const GENERATE_FIELDS = [
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'generationConfig',
  'safetySettings',
  'cachedContent',
  'labels',
  'system_instruction',
  'generation_config',
  'tool_config',
  'safety_settings',
];
/** CountTokensRequest on Vertex: the request's fields at the top level, no generateContentRequest. */
const COUNT_FIELDS = [
  'contents',
  'systemInstruction',
  'tools',
  'generationConfig',
  'instances',
  'model',
  'system_instruction',
  'generation_config',
];

/**
 * Vertex AI's Gemini endpoints: `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}`
 * with a live Bearer token for a known project and location, and
 * `/v1/publishers/google/models/{m}:{method}` with a known x-goog-api-key. Plain Gemini
 * bodies (a Code Assist wrapper is an unknown field), answers in the Gemini format.
 */
export async function startVertexMock(options: VertexMockOptions): Promise<VertexMock> {
  const requests: VertexRequest[] = [];
  let seq = 0;

  function authorize(req: GoogleRequest): { auth: VertexRequest['auth']; model: string; method: string } | GoogleReply {
    const project = PROJECT_PATH.exec(req.path);
    if (project) {
      const [, p, location, model, method] = project;
      const token = bearerOf(req);
      if (!token) {
        return header(req, 'x-goog-api-key')
          ? googleError(
              401,
              'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal.',
            )
          : googleError(401, MISSING_CREDENTIALS);
      }
      if (options.verifyToken(token) !== 'valid') return googleError(401, INVALID_CREDENTIALS);
      const expected = options.projects[decodeURIComponent(p)];
      if (!expected)
        return googleError(
          403,
          `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${p}/locations/${location}/publishers/google/models/${model}' (or it may not exist).`,
        );
      if (expected !== decodeURIComponent(location))
        return googleError(
          404,
          `Publisher Model \`projects/${p}/locations/${location}/publishers/google/models/${model}\` not found.`,
        );
      return { auth: 'service-account', model: decodeURIComponent(model), method };
    }
    const publisher = PUBLISHER_PATH.exec(req.path);
    if (publisher) {
      const key = header(req, 'x-goog-api-key');
      if (!key) return googleError(401, MISSING_CREDENTIALS);
      if (!options.apiKeys.includes(key)) return googleError(400, 'API key not valid. Please pass a valid API key.');
      return { auth: 'api-key', model: decodeURIComponent(publisher[1]), method: publisher[2] };
    }
    return googleError(404, `The requested URL ${req.path} was not found on this server.`);
  }

  function handle(req: GoogleRequest): GoogleReply {
    if (req.method !== 'POST') return googleError(404, `Method not found: ${req.method} ${req.path}`);
    const who = authorize(req);
    if ('status' in who) return who;
    requests.push({ ...req, auth: who.auth, model: who.model });
    if (!isObject(req.body)) return googleError(400, 'Invalid JSON payload received. Expected an object.');
    const body = req.body;
    const problem =
      unknownFields(body, who.method === 'countTokens' ? COUNT_FIELDS : GENERATE_FIELDS) ?? contentsProblem(body);
    if (problem) return problem;

    const conv = fromGemini(who.model, body);
    if (who.method === 'countTokens')
      return { status: 200, body: { totalTokens: conv.promptWords, totalBillableCharacters: conv.promptWords * 5 } };
    const plan = planReply(conv, undefined);
    const ctx: EncodeContext = {
      id: `vx${++seq}`,
      created: Math.floor(Date.now() / 1000),
      model: who.model,
      streamChunks: 3,
    };
    if (who.method === 'generateContent')
      return {
        status: 200,
        body: { ...(gemini.generateContent(ctx, plan) as Json), createTime: new Date().toISOString() },
      };
    const chunks = gemini.generateContentChunks(ctx, plan);
    return gemini.streamedReply(chunks, req.query.alt === 'sse');
  }

  const server = await startGoogleServer(handle);
  return {
    url: server.url,
    requests,
    reset: () => void (requests.length = 0),
    close: () => server.close(),
  };
}

/** Vertex insists on a role per content. */
function contentsProblem(body: Json): GoogleReply | undefined {
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    return googleError(400, 'Unable to submit request because it must include at least one contents field.');
  for (const content of body.contents) {
    if (!isObject(content) || (content.role !== 'user' && content.role !== 'model'))
      return googleError(400, 'Please use a valid role: user, model.');
  }
  return undefined;
}
