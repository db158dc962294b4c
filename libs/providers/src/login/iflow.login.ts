import { z } from 'zod';
import {
  IFLOW_OAUTH_CLIENT_ID,
  IFLOW_OAUTH_CLIENT_SECRET,
  IFLOW_USER_INFO,
  IFlowUserInfoSchema,
  TOKEN_URLS,
} from '../oauth/refreshers';
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
 * iFlow login as CLIProxyAPI did it (internal/auth/iflow, before CLIProxyAPI dropped the
 * family in f5dc6483d): iflow.cn's phone-login authorize page with the CLI's client and
 * redirect http://localhost:11451/oauth2callback (no PKCE; the gateway's browser callback is
 * `/iflow/callback`), a form code exchange authenticated with HTTP Basic (and the client in
 * the form as well), then the user info read with the new access token, whose API key is what
 * iFlow's chat API accepts and whose e-mail (else phone) names the account.
 */

const ENDPOINTS = {
  authorize: { env: 'OAUTH_AUTHORIZE_URL_IFLOW', url: 'https://iflow.cn/oauth' },
  token: TOKEN_URLS.iflow,
  userInfo: IFLOW_USER_INFO,
};

const TokenAnswerSchema = z.looseObject({
  access_token: z.string().trim().min(1),
  refresh_token: z.string().optional(),
  expires_in: z.coerce.number().optional(),
  token_type: z.string().optional(),
  scope: z.string().optional(),
});
type IFlowTokens = z.infer<typeof TokenAnswerSchema>;

/** Go's time.RFC3339 (whole seconds). */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The account's API key and name from iFlow's user info (`?accessToken=`). */
export async function iflowUserInfo(
  accessToken: string,
  ctx: LoginContext,
): Promise<{ apiKey: string; email: string }> {
  const url = new URL(endpointUrl(ENDPOINTS.userInfo, ctx.env));
  url.searchParams.set('accessToken', accessToken);
  const res = await ctx.http.get(url.toString());
  if (res.status !== 200) throw new LoginError(`iflow user info answered ${res.status}`);
  const parsed = IFlowUserInfoSchema.safeParse(res.body);
  if (!parsed.success) throw new LoginError('iflow user info was not successful or carries no API key');
  const email = parsed.data.data.email?.trim() || parsed.data.data.phone?.trim() || '';
  if (!email) throw new LoginError('iflow user info names neither an e-mail nor a phone');
  return { apiKey: parsed.data.data.apiKey, email };
}

/** The token file CLIProxyAPI writes after an iFlow login (`iflow-<email or phone>.json`). */
export function iflowLoginResult(tokens: IFlowTokens, user: { apiKey: string; email: string }, now: Date): LoginResult {
  return {
    fileName: `iflow-${fileNamePart(user.email)}.json`,
    tokenFile: {
      type: 'iflow',
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? '',
      last_refresh: rfc3339(now),
      expired: rfc3339(new Date(now.getTime() + Math.trunc(tokens.expires_in ?? 0) * 1000)),
      api_key: user.apiKey,
      email: user.email,
      token_type: tokens.token_type ?? '',
      scope: tokens.scope ?? '',
      cookie: '',
    },
  };
}

export const iflowLogin: RedirectLoginFlow = {
  kind: 'redirect',
  name: 'iflow',
  aliases: [],
  provider: 'iflow',
  route: 'iflow',
  endpoints: ENDPOINTS,
  callbackPort: 11451,
  callbackPath: '/oauth2callback',
  redirectUri(port = 11451) {
    return `http://localhost:${port}/oauth2callback`;
  },
  authorizeUrl({ state, redirectUri, env }) {
    const url = new URL(endpointUrl(ENDPOINTS.authorize, env));
    // iFlow's page takes `redirect`, not `redirect_uri`, and no response_type.
    for (const [key, value] of Object.entries({
      loginMethod: 'phone',
      type: 'phone',
      redirect: redirectUri,
      state,
      client_id: IFLOW_OAUTH_CLIENT_ID,
    })) {
      url.searchParams.set(key, value);
    }
    return url.toString();
  },
  async exchange({ code, redirectUri }, ctx) {
    const basic = Buffer.from(`${IFLOW_OAUTH_CLIENT_ID}:${IFLOW_OAUTH_CLIENT_SECRET}`).toString('base64');
    const res = await ctx.http.post(
      endpointUrl(ENDPOINTS.token, ctx.env),
      {
        form: {
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          client_id: IFLOW_OAUTH_CLIENT_ID,
          client_secret: IFLOW_OAUTH_CLIENT_SECRET,
        },
      },
      { authorization: `Basic ${basic}` },
    );
    if (!isSuccess(res.status)) throw tokenEndpointFailure('iflow', res, [code]);
    const parsed = TokenAnswerSchema.safeParse(res.body);
    if (!parsed.success) throw new LoginError('iflow token endpoint answered without an access token');
    const user = await iflowUserInfo(parsed.data.access_token, ctx);
    return iflowLoginResult(parsed.data, user, ctx.now);
  },
};
