import { z } from 'zod';
import { CLAUDE_OAUTH_CLIENT_ID, TOKEN_URLS } from '../oauth/refreshers';
import {
  endpointUrl,
  fileNamePart,
  isSuccess,
  LoginError,
  tokenEndpointFailure,
  type LoginContext,
  type LoginResult,
  type RedirectLoginFlow,
} from './login-flow';

/**
 * Claude (Pro/Max subscription) login as Claude Code and CLIProxyAPI do it
 * (internal/auth/claude/anthropic_auth.go): claude.ai authorize with PKCE S256, redirect to
 * http://localhost:54545/callback, JSON code exchange at the token endpoint, whose answer
 * names the account and organization.
 */

const SCOPE = 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload';
/** Claude Code's OAuth calls go out through axios; CLIProxyAPI copies its headers. */
const OAUTH_USER_AGENT = 'axios/1.15.2';

const ENDPOINTS = {
  authorize: { env: 'OAUTH_AUTHORIZE_URL_CLAUDE', url: 'https://claude.ai/oauth/authorize' },
  token: TOKEN_URLS.claude,
};

const TokenAnswerSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().optional(),
  expires_in: z.coerce.number().optional(),
  account: z.looseObject({ uuid: z.string().optional(), email_address: z.string().optional() }).optional(),
  organization: z.looseObject({ uuid: z.string().optional(), name: z.string().optional() }).optional(),
});

/** The token file CLIProxyAPI writes after a Claude login (`claude-<email>.json`). */
export function claudeLoginResult(body: unknown, now: Date): LoginResult {
  const parsed = TokenAnswerSchema.safeParse(body);
  if (!parsed.success) throw new LoginError('claude token endpoint answered without an access token');
  const answer = parsed.data;
  const email = answer.account?.email_address?.trim() ?? '';
  const accountUuid = answer.account?.uuid?.trim() ?? '';
  const who = email || accountUuid;
  if (!who) throw new LoginError('claude token endpoint did not name the account');
  const file: Record<string, unknown> = {
    type: 'claude',
    id_token: '',
    access_token: answer.access_token,
    refresh_token: answer.refresh_token ?? '',
    last_refresh: now.toISOString(),
    email,
    expired: new Date(now.getTime() + (answer.expires_in ?? 0) * 1000).toISOString(),
  };
  if (accountUuid) file.account_uuid = accountUuid;
  if (answer.organization?.uuid) file.organization_uuid = answer.organization.uuid;
  if (answer.organization?.name) file.organization_name = answer.organization.name;
  return { fileName: `claude-${fileNamePart(who)}.json`, tokenFile: file };
}

export const claudeLogin: RedirectLoginFlow = {
  kind: 'redirect',
  name: 'claude',
  aliases: ['anthropic'],
  provider: 'claude',
  route: 'anthropic',
  endpoints: ENDPOINTS,
  callbackPort: 54545,
  callbackPath: '/callback',
  redirectUri(port = 54545) {
    return `http://localhost:${port}/callback`;
  },
  authorizeUrl({ state, pkce, redirectUri, env }) {
    const url = new URL(endpointUrl(ENDPOINTS.authorize, env));
    // `code=true` asks claude.ai to show the code when the redirect cannot be reached.
    for (const [key, value] of Object.entries({
      code: 'true',
      client_id: CLAUDE_OAUTH_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      state,
    })) {
      url.searchParams.set(key, value);
    }
    return url.toString();
  },
  async exchange({ code, state, verifier, redirectUri }, ctx: LoginContext) {
    // Key order as Claude Code sends it.
    const res = await ctx.http.post(
      endpointUrl(ENDPOINTS.token, ctx.env),
      {
        json: {
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          client_id: CLAUDE_OAUTH_CLIENT_ID,
          code_verifier: verifier,
          state,
        },
      },
      { accept: 'application/json, text/plain, */*', 'user-agent': OAUTH_USER_AGENT },
    );
    if (!isSuccess(res.status)) throw tokenEndpointFailure('claude', res, [code, verifier]);
    return claudeLoginResult(res.body, ctx.now);
  },
};
