import { z } from 'zod';
import { isSuccess, LoginError, tokenEndpointFailure, type LoginContext, type LoginHttpResponse } from './login-flow';

/**
 * What the Gemini CLI and Antigravity logins share: both are Google installed-app clients
 * (CLIProxyAPI internal/auth/gemini, internal/auth/antigravity). Google's authorize URL as
 * Go's oauth2 package builds it (offline access, consent prompt; neither client sends PKCE),
 * the form-encoded code exchange with the client secret in the body (google.Endpoint's
 * AuthStyleInParams), the user-info lookup, and reading a Code Assist project out of a
 * loadCodeAssist or onboardUser answer.
 */

export interface GoogleClient {
  id: string;
  secret: string;
  scopes: readonly string[];
}

/** Google's authorize URL with Go's parameters (url.Values sorts them by name). */
export function googleAuthorizeUrl(endpoint: string, client: GoogleClient, state: string, redirectUri: string): string {
  const url = new URL(endpoint);
  for (const [key, value] of Object.entries({
    access_type: 'offline',
    client_id: client.id,
    prompt: 'consent',
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: client.scopes.join(' '),
    state,
  })) {
    url.searchParams.set(key, value);
  }
  return url.toString();
}

const GoogleTokenSchema = z.looseObject({
  access_token: z.string().trim().min(1),
  refresh_token: z.string().optional(),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().optional(),
  scope: z.string().optional(),
});
export type GoogleTokens = z.infer<typeof GoogleTokenSchema>;

/** The authorization-code grant at Google's token endpoint. */
export async function exchangeGoogleCode(
  family: string,
  tokenUrl: string,
  client: GoogleClient,
  code: string,
  redirectUri: string,
  ctx: LoginContext,
): Promise<GoogleTokens> {
  const res = await ctx.http.post(tokenUrl, {
    form: {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: client.id,
      client_secret: client.secret,
    },
  });
  if (!isSuccess(res.status)) throw tokenEndpointFailure(family, res, [code]);
  const parsed = GoogleTokenSchema.safeParse(res.body);
  if (!parsed.success) throw new LoginError(`${family} token endpoint answered without an access token`);
  return parsed.data;
}

const UserInfoSchema = z.looseObject({ email: z.string().optional() });

/** The signed-in account's e-mail from Google's user info ('' when it names none). */
export async function googleEmail(
  family: string,
  userInfoUrl: string,
  accessToken: string,
  ctx: LoginContext,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await ctx.http.get(userInfoUrl, { authorization: `Bearer ${accessToken}`, ...headers });
  if (!isSuccess(res.status)) throw new LoginError(`${family} user info request answered ${res.status}`);
  const parsed = UserInfoSchema.safeParse(res.body);
  return parsed.success ? (parsed.data.email?.trim() ?? '') : '';
}

const ProjectSchema = z.union([z.string(), z.looseObject({ id: z.string().optional() })]);

/**
 * The project named by a Code Assist answer (loadCodeAssist, or an onboardUser operation's
 * `response`): `cloudaicompanionProject` as a string or `{id}`, then the other keys given.
 */
export function codeAssistProject(answer: unknown, keys: readonly string[] = ['cloudaicompanionProject']): string {
  if (typeof answer !== 'object' || answer === null) return '';
  for (const key of keys) {
    const parsed = ProjectSchema.safeParse((answer as Record<string, unknown>)[key]);
    if (!parsed.success) continue;
    const id = (typeof parsed.data === 'string' ? parsed.data : (parsed.data.id ?? '')).trim();
    if (id) return id;
  }
  return '';
}

const TierListSchema = z.looseObject({
  allowedTiers: z.array(z.unknown()).optional(),
  currentTier: z.unknown().optional(),
});
const TierSchema = z.looseObject({ id: z.string().optional(), isDefault: z.boolean().optional() });

/** The id of the tier loadCodeAssist marks `isDefault` among its allowed tiers, '' when none is. */
export function defaultTierId(answer: unknown): string {
  const parsed = TierListSchema.safeParse(answer);
  for (const raw of parsed.success ? (parsed.data.allowedTiers ?? []) : []) {
    const tier = TierSchema.safeParse(raw);
    if (tier.success && tier.data.isDefault === true && tier.data.id?.trim()) return tier.data.id.trim();
  }
  return '';
}

/** The id of loadCodeAssist's `currentTier`, '' when it names none. */
export function currentTierId(answer: unknown): string {
  const parsed = TierListSchema.safeParse(answer);
  const tier = TierSchema.safeParse(parsed.success ? parsed.data.currentTier : undefined);
  return tier.success ? (tier.data.id?.trim() ?? '') : '';
}

const OperationSchema = z.looseObject({ done: z.boolean().optional(), response: z.unknown().optional() });

/** An onboardUser answer (a long-running operation): whether it is done, and the project it names then. */
export function onboardingState(answer: unknown, keys?: readonly string[]): { done: boolean; project: string } {
  const parsed = OperationSchema.safeParse(answer);
  if (!parsed.success || parsed.data.done !== true) return { done: false, project: '' };
  return { done: true, project: codeAssistProject(parsed.data.response, keys) };
}

/** A Code Assist call that failed, by method and status (answers can quote the request; they are not shown). */
export function codeAssistFailure(family: string, method: string, res: LoginHttpResponse): LoginError {
  return new LoginError(`${family} ${method} answered ${res.status}`);
}
