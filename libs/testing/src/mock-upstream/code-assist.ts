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
  /** New accounts (no project yet) that onboarding provisions a free-tier project for; takes precedence over loadCodeAssistProject. */
  onboarding?: CodeAssistOnboarding;
}

/**
 * Code Assist's onboarding of accounts that have no project yet, as a free Google account
 * meets it: loadCodeAssist offers the tiers (free-tier the default) and names no project;
 * onboardUser starts a long-running operation that answers `done: false` `pollsBeforeDone`
 * times, then `done: true` with the provisioned project, which loadCodeAssist names from then
 * on and generate calls may use.
 */
export interface CodeAssistOnboarding {
  /** The account a live Bearer token belongs to (onboarding is per account). */
  accountOf(token: string): string | undefined;
  /** The project onboarding provisions for an account. */
  projectFor(account: string): string;
  /** How many onboardUser polls answer `done: false` before the project is ready (default 2). */
  pollsBeforeDone?: number;
}

export interface CodeAssistMock {
  readonly url: string;
  readonly requests: CodeAssistRequest[];
  /** Every onboardUser call that passed authentication, with the operation's state it got. */
  readonly onboardRequests: { request: GoogleRequest; account: string; done: boolean }[];
  /** Projects whose Cloud AI Companion API was enabled through the service-usage endpoint. */
  readonly enabledServices: Set<string>;
  /** The next `times` generate calls fail with this status (429s carry RetryInfo). */
  failNext(status: number, options?: { times?: number; retryAfterSeconds?: number }): void;
  /** What the model answers instead of echoing the last user text. */
  reply?: ScriptedReply;
  reset(): void;
  close(): Promise<void>;
}

const METHOD = /^\/v1internal:(generateContent|streamGenerateContent|countTokens|loadCodeAssist|onboardUser)$/;
/** Service Usage (`serviceusage.googleapis.com`), served here too: `GET /v1/projects/{p}/services/{s}` and `POST ...:enable`. */
const SERVICE = /^\/v1\/projects\/([^/]+)\/services\/([^/:]+)(:enable)?$/;
const COMPANION_SERVICE = 'cloudaicompanion.googleapis.com';
/** The tiers Code Assist offers an account that has none yet. */
const OFFERED_TIERS = [
  {
    id: 'free-tier',
    name: 'Gemini Code Assist for individuals',
    isDefault: true,
    userDefinedCloudaicompanionProject: false,
  },
  { id: 'standard-tier', name: 'Gemini Code Assist', userDefinedCloudaicompanionProject: true },
];
const FREE_TIER = OFFERED_TIERS[0];
const ONBOARD_RESPONSE_TYPE = 'type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse';
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
  const onboardRequests: CodeAssistMock['onboardRequests'] = [];
  const enabledServices = new Set<string>();
  /** Per account: onboardUser polls so far, and whether its project is provisioned. */
  const onboardings = new Map<string, { polls: number; done: boolean }>();
  let failures: { status: number; times: number; retryAfterSeconds?: number } | undefined;
  let seq = 0;

  const onboardedProject = (account: string | undefined): string | undefined =>
    account !== undefined && onboardings.get(account)?.done ? options.onboarding!.projectFor(account) : undefined;
  const provisioned = () =>
    [...onboardings.entries()]
      .filter(([, state]) => state.done)
      .map(([account]) => options.onboarding!.projectFor(account));
  const knownProject = (project: string) => options.projects.includes(project) || provisioned().includes(project);

  const mock: CodeAssistMock = {
    url: '',
    requests,
    onboardRequests,
    enabledServices,
    failNext(status, opts = {}) {
      failures = { status, times: opts.times ?? 1, retryAfterSeconds: opts.retryAfterSeconds };
    },
    reset() {
      requests.length = 0;
      onboardRequests.length = 0;
      failures = undefined;
      mock.reply = undefined;
    },
    close: () => server.close(),
  };

  function identify(req: GoogleRequest, model: string | undefined): CodeAssistClient | GoogleReply {
    const ua = header(req, 'user-agent');
    const cli = GEMINI_CLI_UA.exec(ua);
    if (cli) {
      if (!header(req, 'x-goog-api-client'))
        return googleError(400, 'Gemini CLI requests must carry X-Goog-Api-Client.');
      if (model !== undefined && cli[1] !== model)
        return googleError(400, `User-Agent names model ${cli[1]}, request is for ${model}.`);
      return 'gemini-cli';
    }
    if (ANTIGRAVITY_UA.test(ua)) return 'antigravity';
    return googleError(400, `Unrecognised client: ${ua || '(no User-Agent)'}`);
  }

  /** Service Usage: the Cloud AI Companion API's state in a project, and enabling it. */
  function serviceUsage(req: GoogleRequest, project: string, service: string, enable: boolean): GoogleReply {
    if (req.method !== (enable ? 'POST' : 'GET'))
      return googleError(404, `Method not found: ${req.method} ${req.path}`);
    const token = bearerOf(req);
    if (!token) return googleError(401, MISSING_CREDENTIALS);
    if (options.verifyToken(token) !== 'valid') return googleError(401, INVALID_CREDENTIALS);
    if (!knownProject(project)) return googleError(403, `Permission denied to get service [${service}]`);
    if (service !== COMPANION_SERVICE) return googleError(404, `Service ${service} not found`);
    // Projects onboarding provisions come with the API on; others need enabling once.
    const enabled = enabledServices.has(project) || provisioned().includes(project);
    if (enable) {
      enabledServices.add(project);
      return { status: 200, body: { name: `operations/acf.enable-${project}`, done: true } };
    }
    return {
      status: 200,
      body: { name: `projects/${project}/services/${service}`, state: enabled ? 'ENABLED' : 'DISABLED' },
    };
  }

  /** onboardUser: a long-running operation on an offered tier, done after `pollsBeforeDone` polls. */
  function onboardUser(req: GoogleRequest, token: string, body: Json): GoogleReply {
    const onboarding = options.onboarding;
    if (!onboarding) return googleError(400, 'User is already onboarded.');
    const ua = header(req, 'user-agent');
    if (!ua.startsWith('GeminiCLI/') && !ua.startsWith('antigravity/'))
      return googleError(400, `Unrecognised client: ${ua || '(no User-Agent)'}`);
    if (!isObject(body.metadata)) return googleError(400, 'metadata is required');
    // Proto JSON takes lowerCamel and snake_case field names alike.
    const tierId = body.tierId ?? body.tier_id;
    const tier = OFFERED_TIERS.find((t) => t.id === tierId);
    if (!tier) return googleError(400, `Invalid tier id: ${String(tierId)}`);
    const account = onboarding.accountOf(token);
    if (!account) return googleError(401, INVALID_CREDENTIALS);
    const requested = body.cloudaicompanionProject;
    if (tier.userDefinedCloudaicompanionProject && (typeof requested !== 'string' || !knownProject(requested))) {
      return googleError(400, 'This tier requires a Google Cloud project you own (cloudaicompanionProject).');
    }
    if (
      !tier.userDefinedCloudaicompanionProject &&
      requested !== undefined &&
      requested !== onboarding.projectFor(account)
    ) {
      return googleError(403, `Permission denied on resource project ${String(requested)}.`);
    }
    const state = onboardings.get(account) ?? { polls: 0, done: false };
    onboardings.set(account, state);
    if (!state.done && state.polls++ >= (onboarding.pollsBeforeDone ?? 2)) state.done = true;
    onboardRequests.push({ request: req, account, done: state.done });
    const name = `operations/onboard-${account.replace(/[^A-Za-z0-9]/g, '-')}`;
    if (!state.done) return { status: 200, body: { name, done: false } };
    const project = tier.userDefinedCloudaicompanionProject ? (requested as string) : onboarding.projectFor(account);
    return {
      status: 200,
      body: {
        name,
        done: true,
        response: { '@type': ONBOARD_RESPONSE_TYPE, cloudaicompanionProject: { id: project, name: project } },
      },
    };
  }

  function handle(req: GoogleRequest): GoogleReply {
    const service = SERVICE.exec(req.path);
    if (service) return serviceUsage(req, decodeURIComponent(service[1]), service[2], service[3] !== undefined);
    const method = METHOD.exec(req.path)?.[1];
    if (req.method !== 'POST' || !method) return googleError(404, `Method not found: ${req.method} ${req.path}`);
    const token = bearerOf(req);
    if (!token) return googleError(401, MISSING_CREDENTIALS);
    if (options.verifyToken(token) !== 'valid') return googleError(401, INVALID_CREDENTIALS);
    if (!isObject(req.body)) return googleError(400, 'Invalid JSON payload received. Expected an object.');
    const body = req.body;

    if (method === 'onboardUser') return onboardUser(req, token, body);

    if (method === 'loadCodeAssist') {
      if (!isObject(body.metadata)) return googleError(400, 'metadata is required');
      if (options.onboarding) {
        const project = onboardedProject(options.onboarding.accountOf(token));
        // A new account is offered the tiers and has no project; an onboarded one is on the free tier with its project.
        return {
          status: 200,
          body: project
            ? { currentTier: FREE_TIER, allowedTiers: OFFERED_TIERS, cloudaicompanionProject: project }
            : { allowedTiers: OFFERED_TIERS },
        };
      }
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
      if ('safetySettings' in inner)
        return googleError(
          400,
          `Invalid JSON payload received. Unknown name "safetySettings" at 'request': Cannot find field.`,
        );
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
    if (!knownProject(body.project)) return googleError(403, `Permission denied on resource project ${body.project}.`);
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
      return googleError(
        failures.status,
        failures.status === 429 ? 'Resource has been exhausted (e.g. check quota).' : `Error ${failures.status}`,
        {
          retryAfterSeconds: failures.retryAfterSeconds,
        },
      );
    }

    const conv = fromGemini(model, inner);
    const plan = planReply(conv, mock.reply);
    const ctx: EncodeContext = { id: `ca${++seq}`, created: Math.floor(Date.now() / 1000), model, streamChunks: 3 };
    const traceId = randomBytes(8).toString('hex');
    if (method === 'generateContent')
      return { status: 200, body: { response: gemini.generateContent(ctx, plan), traceId } };
    const chunks = gemini.generateContentChunks(ctx, plan).map((chunk) => ({ response: chunk, traceId }));
    return gemini.streamedReply(chunks, req.query.alt === 'sse');
  }

  const server = await startGoogleServer(handle);
  return Object.assign(mock, { url: server.url });
}

/** Antigravity's request fields, as its own client sends them. */
function antigravityProblem(body: Json, inner: Json): string | undefined {
  if (body.userAgent !== 'antigravity') return 'userAgent must be "antigravity"';
  if (body.requestType !== 'agent' && body.requestType !== 'image_gen') return 'requestType must be agent or image_gen';
  if (typeof body.requestId !== 'string' || (body.requestType === 'agent' && !REQUEST_ID.test(body.requestId)))
    return 'requestId must be agent-<uuid>';
  if (typeof inner.sessionId !== 'string' || !/^-\d+$/.test(inner.sessionId)) return 'request.sessionId is required';
  if ('safetySettings' in inner)
    return `Invalid JSON payload received. Unknown name "safetySettings" at 'request': Cannot find field.`;
  return undefined;
}
