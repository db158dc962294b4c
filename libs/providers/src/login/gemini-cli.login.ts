import { z } from 'zod';
import { CODE_ASSIST_BASE_URL, CODE_ASSIST_VERSION, geminiCliUserAgent } from '../families/code-assist';
import { GEMINI_CLI_OAUTH_CLIENT_ID, GEMINI_CLI_OAUTH_CLIENT_SECRET, TOKEN_URLS } from '../oauth/refreshers';
import { joinUrl } from '../provider-adapter';
import {
  codeAssistFailure,
  codeAssistProject,
  defaultTierId,
  exchangeGoogleCode,
  googleAuthorizeUrl,
  googleEmail,
  onboardingState,
  type GoogleClient,
  type GoogleTokens,
} from './google-login';
import {
  endpointUrl,
  fileNamePart,
  isSuccess,
  LoginError,
  loginSleep,
  type LoginContext,
  type LoginResult,
  type RedirectLoginFlow,
} from './login-flow';

/**
 * Gemini CLI (Google account) login as CLIProxyAPI does it (internal/auth/gemini and the
 * management handler's "Google One" project discovery, before CLIProxyAPI dropped the
 * family): Google authorize with the Gemini CLI's client and redirect
 * http://localhost:8085/oauth2callback (the gateway's browser callback is `/google/callback`),
 * form code exchange, the e-mail from the user info, then the Code Assist project:
 * loadCodeAssist names it, or onboardUser creates one on the tier loadCodeAssist offers as
 * default (a free account's "free-tier"), polled until the operation is done; finally the
 * project's Cloud AI Companion API is checked (and enabled when it is not).
 */

const GEMINI_CLIENT: GoogleClient = {
  id: GEMINI_CLI_OAUTH_CLIENT_ID,
  secret: GEMINI_CLI_OAUTH_CLIENT_SECRET,
  scopes: [
    'https://www.googleapis.com/auth/cloud-platform',
    'https://www.googleapis.com/auth/userinfo.email',
    'https://www.googleapis.com/auth/userinfo.profile',
  ],
};

const ENDPOINTS = {
  authorize: { env: 'OAUTH_AUTHORIZE_URL_GEMINI', url: 'https://accounts.google.com/o/oauth2/auth' },
  token: TOKEN_URLS['gemini-cli'],
  userInfo: { env: 'OAUTH_USER_INFO_URL_GEMINI', url: 'https://www.googleapis.com/oauth2/v1/userinfo?alt=json' },
  codeAssist: { env: 'GEMINI_CLI_BASE_URL', url: CODE_ASSIST_BASE_URL },
  serviceUsage: { env: 'GOOGLE_SERVICE_USAGE_URL', url: 'https://serviceusage.googleapis.com' },
};

/** What the Gemini CLI tells Code Assist about itself during setup. */
const SETUP_METADATA = { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' };
/** The tier onboardUser is asked for when loadCodeAssist marks none as default (the Gemini CLI's fallback). */
export const GEMINI_FALLBACK_TIER = 'legacy-tier';
/** The service a Code Assist project needs enabled. */
const COMPANION_SERVICE = 'cloudaicompanion.googleapis.com';

/**
 * Onboarding polls: CLIProxyAPI waits 2 s between the polls of a project-less onboarding (for
 * at most 30 s) and 5 s between those of a project's; the second wait is bounded here too,
 * since the login's HTTP request is waiting on it.
 */
export const GEMINI_ONBOARDING_POLLS = {
  discover: { intervalMs: 2_000, attempts: 15 },
  confirm: { intervalMs: 5_000, attempts: 6 },
};

interface CodeAssistCaller {
  call(method: 'loadCodeAssist' | 'onboardUser', body: Record<string, unknown>): Promise<unknown>;
}

function codeAssistCaller(accessToken: string, ctx: LoginContext): CodeAssistCaller {
  const base = endpointUrl(ENDPOINTS.codeAssist, ctx.env);
  return {
    async call(method, body) {
      const res = await ctx.http.post(
        joinUrl(base, `/${CODE_ASSIST_VERSION}:${method}`),
        { json: body },
        {
          authorization: `Bearer ${accessToken}`,
          'user-agent': geminiCliUserAgent(''),
        },
      );
      if (!isSuccess(res.status)) throw codeAssistFailure('gemini-cli', method, res);
      return res.body;
    },
  };
}

/** onboardUser until its operation is done; the project it names ('' when none). */
async function onboard(
  api: CodeAssistCaller,
  body: Record<string, unknown>,
  polls: { intervalMs: number; attempts: number },
  ctx: LoginContext,
): Promise<string | undefined> {
  for (let attempt = 1; attempt <= polls.attempts; attempt++) {
    const state = onboardingState(await api.call('onboardUser', body));
    if (state.done) return state.project;
    if (attempt < polls.attempts) await loginSleep(ctx, polls.intervalMs);
  }
  return undefined;
}

/**
 * CLIProxyAPI's performGeminiCLISetup without a requested project: the project loadCodeAssist
 * names, else the one onboarding provisions, confirmed by onboarding it on the same tier.
 */
export async function setUpCodeAssist(accessToken: string, ctx: LoginContext): Promise<string> {
  const api = codeAssistCaller(accessToken, ctx);
  const loaded = await api.call('loadCodeAssist', { metadata: SETUP_METADATA });
  const tierId = defaultTierId(loaded) || GEMINI_FALLBACK_TIER;
  let project = codeAssistProject(loaded);
  if (!project) {
    const discovered = await onboard(api, { tierId, metadata: SETUP_METADATA }, GEMINI_ONBOARDING_POLLS.discover, ctx);
    if (!discovered)
      throw new LoginError(
        'gemini-cli onboarding provided no Code Assist project; the account needs a Google Cloud project (project selection required)',
      );
    project = discovered;
  }
  const confirmed = await onboard(
    api,
    { tierId, metadata: SETUP_METADATA, cloudaicompanionProject: project },
    GEMINI_ONBOARDING_POLLS.confirm,
    ctx,
  );
  if (confirmed === undefined)
    throw new LoginError(`gemini-cli onboarding of project ${project} did not finish in time`);
  // Code Assist may map the project to its own backend project: the answer wins.
  return confirmed || project;
}

const ServiceStateSchema = z.looseObject({ state: z.string().optional() });
const GoogleErrorSchema = z.looseObject({ error: z.looseObject({ message: z.string().optional() }).optional() });

/** CLIProxyAPI's checkCloudAPIIsEnabled: the Cloud AI Companion API of the project is enabled, or gets enabled now. */
export async function ensureCompanionApi(project: string, accessToken: string, ctx: LoginContext): Promise<void> {
  const service = joinUrl(
    endpointUrl(ENDPOINTS.serviceUsage, ctx.env),
    `/v1/projects/${encodeURIComponent(project)}/services/${COMPANION_SERVICE}`,
  );
  const headers = {
    authorization: `Bearer ${accessToken}`,
    'content-type': 'application/json',
    'user-agent': geminiCliUserAgent(''),
  };
  const current = await ctx.http.get(service, headers);
  if (current.status === 200 && ServiceStateSchema.safeParse(current.body).data?.state === 'ENABLED') return;
  const enabled = await ctx.http.post(`${service}:enable`, { json: {} }, headers);
  if (enabled.status === 200 || enabled.status === 201) return;
  const message = GoogleErrorSchema.safeParse(enabled.body).data?.error?.message ?? '';
  if (enabled.status === 400 && message.toLowerCase().includes('already enabled')) return;
  throw new LoginError(`Cloud AI API not enabled for project ${project} (enabling it answered ${enabled.status})`);
}

/** CLIProxyAPI's gemini file name: `gemini-<email>-<project>.json`. */
export const geminiFileName = (email: string, project: string): string =>
  `gemini-${fileNamePart(email)}-${fileNamePart(project)}.json`;

/** The token file CLIProxyAPI writes after a Gemini CLI login: Go's oauth2.Token plus the client it refreshes with. */
export function geminiLoginResult(
  tokens: GoogleTokens,
  email: string,
  project: string,
  tokenUrl: string,
  now: Date,
): LoginResult {
  const token: Record<string, unknown> = {
    access_token: tokens.access_token,
    token_type: tokens.token_type ?? 'Bearer',
    refresh_token: tokens.refresh_token ?? '',
    expiry: new Date(now.getTime() + (tokens.expires_in ?? 0) * 1000).toISOString(),
    token_uri: tokenUrl,
    client_id: GEMINI_CLIENT.id,
    client_secret: GEMINI_CLIENT.secret,
    scopes: [...GEMINI_CLIENT.scopes],
    universe_domain: 'googleapis.com',
  };
  if (tokens.expires_in) token.expires_in = tokens.expires_in;
  return {
    fileName: geminiFileName(email, project),
    tokenFile: { type: 'gemini', token, project_id: project, email, auto: false, checked: true },
  };
}

export const geminiCliLogin: RedirectLoginFlow = {
  kind: 'redirect',
  name: 'gemini-cli',
  aliases: ['gemini'],
  provider: 'gemini-cli',
  route: 'gemini-cli',
  endpoints: ENDPOINTS,
  callbackPort: 8085,
  callbackPath: '/oauth2callback',
  callbackRoute: 'google',
  redirectUri(port = 8085) {
    return `http://localhost:${port}/oauth2callback`;
  },
  authorizeUrl({ state, redirectUri, env }) {
    return googleAuthorizeUrl(endpointUrl(ENDPOINTS.authorize, env), GEMINI_CLIENT, state, redirectUri);
  },
  async exchange({ code, redirectUri }, ctx) {
    const tokenUrl = endpointUrl(ENDPOINTS.token, ctx.env);
    const tokens = await exchangeGoogleCode('gemini-cli', tokenUrl, GEMINI_CLIENT, code, redirectUri, ctx);
    const email = await googleEmail('gemini-cli', endpointUrl(ENDPOINTS.userInfo, ctx.env), tokens.access_token, ctx, {
      'content-type': 'application/json',
    });
    const project = await setUpCodeAssist(tokens.access_token, ctx);
    await ensureCompanionApi(project, tokens.access_token, ctx);
    return geminiLoginResult(tokens, email, project, tokenUrl, ctx.now);
  },
};
