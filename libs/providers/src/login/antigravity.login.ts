import {
  ANTIGRAVITY_BASE_URLS,
  ANTIGRAVITY_USER_AGENT,
  ANTIGRAVITY_VERSION,
  antigravityBases,
  CODE_ASSIST_VERSION,
} from '../families/code-assist';
import { ANTIGRAVITY_OAUTH_CLIENT_ID, ANTIGRAVITY_OAUTH_CLIENT_SECRET, TOKEN_URLS } from '../oauth/refreshers';
import { joinUrl } from '../provider-adapter';
import {
  codeAssistFailure,
  codeAssistProject,
  currentTierId,
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
  LoginError,
  loginSleep,
  LoginUnreachableError,
  type LoginContext,
  type LoginResult,
  type RedirectLoginFlow,
} from './login-flow';

/**
 * Antigravity (Google account) login as CLIProxyAPI does it (internal/auth/antigravity,
 * sdk/auth/antigravity.go): Google authorize with Antigravity's client and redirect
 * http://localhost:51121/oauth-callback (the gateway's browser callback is
 * `/antigravity/callback`), form code exchange, the e-mail from the user info (required),
 * then the Code Assist project: loadCodeAssist names it, or onboardUser provisions one on the
 * default tier (else the current one, else "free-tier"), polled up to 5 times.
 */

const ANTIGRAVITY_CLIENT: GoogleClient = {
  id: ANTIGRAVITY_OAUTH_CLIENT_ID,
  secret: ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  scopes: [
    'https://www.googleapis.com/auth/cloud-platform',
    'https://www.googleapis.com/auth/userinfo.email',
    'https://www.googleapis.com/auth/userinfo.profile',
    'https://www.googleapis.com/auth/cclog',
    'https://www.googleapis.com/auth/experimentsandconfigs',
  ],
};

const ENDPOINTS = {
  authorize: { env: 'OAUTH_AUTHORIZE_URL_ANTIGRAVITY', url: 'https://accounts.google.com/o/oauth2/v2/auth' },
  token: TOKEN_URLS.antigravity,
  userInfo: { env: 'OAUTH_USER_INFO_URL_ANTIGRAVITY', url: 'https://www.googleapis.com/oauth2/v2/userinfo?alt=json' },
  /** loadCodeAssist goes to the request bases in order (ANTIGRAVITY_BASE_URL, a comma list, overrides them). */
  codeAssist: { env: 'ANTIGRAVITY_BASE_URL', url: ANTIGRAVITY_BASE_URLS.join(',') },
};

/** Antigravity's onboarding goes to the daily endpoint unless ANTIGRAVITY_BASE_URL moves Code Assist elsewhere. */
const DAILY_BASE_URL = ANTIGRAVITY_BASE_URLS[1];
/** Antigravity's control-plane calls identify as its Node API client. */
const CONTROL_PLANE_USER_AGENT = `${ANTIGRAVITY_USER_AGENT} google-api-nodejs-client/10.3.0`;
const CONTROL_PLANE_API_CLIENT = 'gl-node/22.21.1';
/** The keys an Antigravity answer may name its project under. */
const PROJECT_KEYS = ['cloudaicompanionProject', 'projectId', 'project'];
export const ANTIGRAVITY_FALLBACK_TIER = 'free-tier';
export const ANTIGRAVITY_ONBOARDING_POLLS = { intervalMs: 2_000, attempts: 5 };

/** loadCodeAssist on the first base that answers; that base and the answer. */
async function loadCodeAssist(accessToken: string, ctx: LoginContext): Promise<{ base: string; answer: unknown }> {
  let unreachable: LoginUnreachableError | undefined;
  for (const base of antigravityBases('', ctx.env)) {
    let res;
    try {
      res = await ctx.http.post(
        joinUrl(base, `/${CODE_ASSIST_VERSION}:loadCodeAssist`),
        { json: { metadata: { ideType: 'ANTIGRAVITY' } } },
        { authorization: `Bearer ${accessToken}`, accept: '*/*', 'user-agent': ANTIGRAVITY_USER_AGENT },
      );
    } catch (error) {
      if (!(error instanceof LoginUnreachableError)) throw error;
      unreachable = error;
      continue;
    }
    if (res.status < 200 || res.status >= 300) throw codeAssistFailure('antigravity', 'loadCodeAssist', res);
    return { base, answer: res.body };
  }
  throw unreachable ?? new LoginError('antigravity has no Code Assist base URL');
}

/** CLIProxyAPI's OnboardUser: up to 5 polls of the operation, 2 s apart. */
async function onboardUser(base: string, accessToken: string, tierId: string, ctx: LoginContext): Promise<string> {
  const body = {
    tier_id: tierId,
    metadata: { ide_type: 'ANTIGRAVITY', ide_version: ANTIGRAVITY_VERSION, ide_name: 'antigravity' },
  };
  const { intervalMs, attempts } = ANTIGRAVITY_ONBOARDING_POLLS;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const res = await ctx.http.post(
      joinUrl(base, `/${CODE_ASSIST_VERSION}:onboardUser`),
      { json: body },
      {
        authorization: `Bearer ${accessToken}`,
        accept: '*/*',
        'user-agent': CONTROL_PLANE_USER_AGENT,
        'x-goog-api-client': CONTROL_PLANE_API_CLIENT,
      },
    );
    if (res.status !== 200) throw codeAssistFailure('antigravity', 'onboardUser', res);
    const state = onboardingState(res.body, PROJECT_KEYS);
    if (state.done) {
      if (!state.project) throw new LoginError('antigravity onboarding finished without a project');
      return state.project;
    }
    if (attempt < attempts) await loginSleep(ctx, intervalMs);
  }
  throw new LoginError(`antigravity onboarding did not complete after ${attempts} attempts`);
}

/** CLIProxyAPI's FetchProjectID: the project loadCodeAssist names, else the one onboarding provisions. */
export async function antigravityProject(accessToken: string, ctx: LoginContext): Promise<string> {
  const { base, answer } = await loadCodeAssist(accessToken, ctx);
  const project = codeAssistProject(answer, PROJECT_KEYS);
  if (project) return project;
  const tierId = defaultTierId(answer) || currentTierId(answer) || ANTIGRAVITY_FALLBACK_TIER;
  const onboardBase = ctx.env[ENDPOINTS.codeAssist.env]?.trim() ? base : DAILY_BASE_URL;
  return onboardUser(onboardBase, accessToken, tierId, ctx);
}

/** CLIProxyAPI's file name: `antigravity-<email>.json`. */
export const antigravityFileName = (email: string): string =>
  email.trim() ? `antigravity-${fileNamePart(email)}.json` : 'antigravity.json';

/** Go's time.RFC3339: whole seconds. */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The token file CLIProxyAPI writes after an Antigravity login. */
export function antigravityLoginResult(tokens: GoogleTokens, email: string, project: string, now: Date): LoginResult {
  const expiresIn = Math.trunc(tokens.expires_in ?? 0);
  const file: Record<string, unknown> = {
    type: 'antigravity',
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? '',
    expires_in: expiresIn,
    timestamp: now.getTime(),
    expired: rfc3339(new Date(now.getTime() + expiresIn * 1000)),
    email,
  };
  if (project) file.project_id = project;
  return { fileName: antigravityFileName(email), tokenFile: file };
}

export const antigravityLogin: RedirectLoginFlow = {
  kind: 'redirect',
  name: 'antigravity',
  aliases: [],
  provider: 'antigravity',
  route: 'antigravity',
  endpoints: ENDPOINTS,
  callbackPort: 51121,
  callbackPath: '/oauth-callback',
  redirectUri(port = 51121) {
    return `http://localhost:${port}/oauth-callback`;
  },
  authorizeUrl({ state, redirectUri, env }) {
    return googleAuthorizeUrl(endpointUrl(ENDPOINTS.authorize, env), ANTIGRAVITY_CLIENT, state, redirectUri);
  },
  async exchange({ code, redirectUri }, ctx) {
    const tokens = await exchangeGoogleCode(
      'antigravity',
      endpointUrl(ENDPOINTS.token, ctx.env),
      ANTIGRAVITY_CLIENT,
      code,
      redirectUri,
      ctx,
    );
    const email = await googleEmail('antigravity', endpointUrl(ENDPOINTS.userInfo, ctx.env), tokens.access_token, ctx, {
      'user-agent': ANTIGRAVITY_USER_AGENT,
    });
    if (!email) throw new LoginError('antigravity user info named no e-mail');
    // As `antigravity --login` (sdk/auth/antigravity.go): a login without a project is refused, not stored half-working.
    const project = await antigravityProject(tokens.access_token, ctx);
    return antigravityLoginResult(tokens, email, project, ctx.now);
  },
};
