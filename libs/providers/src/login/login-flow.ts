import { request } from 'undici';
import { describeFailure } from '../oauth/token-client';
import type { PkcePair } from './pkce';

/**
 * A login flow of one provider family: how to send the operator to the provider and how to
 * turn what comes back into a CLIProxyAPI token file. Flows hold no state; the session
 * (state, PKCE verifier, device code) is kept by the caller (OAuthLoginService, Postgres).
 *
 * Adding a family's login = one file exporting a RedirectLoginFlow or DeviceLoginFlow, listed
 * in LOGIN_FLOWS (registry.ts).
 */

/** A URL the flow calls or shows, overridable by an environment variable (tests, private deployments). */
export interface LoginEndpoint {
  env: string;
  url: string;
}

export function endpointUrl(endpoint: LoginEndpoint, env: NodeJS.ProcessEnv = process.env): string {
  return env[endpoint.env]?.trim() || endpoint.url;
}

/** What a finished login stores: the token file CLIProxyAPI would have written for it. */
export interface LoginResult {
  fileName: string;
  /** A CLIProxyAPI token file object (`type` plus that type's fields), read by parseTokenFile. */
  tokenFile: Record<string, unknown>;
}

/** A login that cannot finish; the message is for the operator and never carries a token or code. */
export class LoginError extends Error {
  override readonly name = 'LoginError';
}

/** The provider could not be reached: worth another try (a device poll keeps waiting). */
export class LoginUnreachableError extends LoginError {}

/** One JSON answer of a provider endpoint (body undefined when it was not JSON). */
export interface LoginHttpResponse {
  status: number;
  body: unknown;
}

/** HTTP as the flows need it: a POST (JSON or form-encoded) or a GET (user info). Injected so tests and proxies can supply their own. */
export interface LoginHttp {
  post(
    url: string,
    body: { json: unknown } | { form: Record<string, string> },
    headers?: Record<string, string>,
  ): Promise<LoginHttpResponse>;
  get(url: string, headers?: Record<string, string>): Promise<LoginHttpResponse>;
}

export interface LoginContext {
  env: NodeJS.ProcessEnv;
  http: LoginHttp;
  now: Date;
  /** Waits between the polls of a provider's long-running setup (Code Assist onboarding); default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

interface FlowIdentity {
  /** The flow's name on the command line (`npm run login -- <name>`). */
  readonly name: string;
  /** Other names the command line and `oauth-callback`'s `provider` accept for it. */
  readonly aliases: readonly string[];
  /** The provider of the credential it creates. */
  readonly provider: string;
  /**
   * CLIProxyAPI's name of the login in the management API: `/<route>-auth-url`,
   * `/<route>/callback` on the gateway (Gemini CLI's is `google`, see callbackRoute).
   */
  readonly route: string;
  /** Endpoints the flow uses, for documentation and tests. */
  readonly endpoints: Readonly<Record<string, LoginEndpoint>>;
}

/** Authorization-code login (PKCE S256 where the provider uses it): the browser comes back to a redirect URI. */
export interface RedirectLoginFlow extends FlowIdentity {
  readonly kind: 'redirect';
  /** The port of the redirect URI the provider has registered (the local callback listener of the command). */
  readonly callbackPort: number;
  /** The path of that redirect URI. */
  readonly callbackPath: string;
  /** The browser callback on the gateway when it is not `/<route>/callback`. */
  readonly callbackRoute?: string;
  /** The redirect URI for a local listener on `port` (default callbackPort). */
  redirectUri(port?: number): string;
  authorizeUrl(params: { state: string; pkce: PkcePair; redirectUri: string; env: NodeJS.ProcessEnv }): string;
  exchange(
    params: { code: string; state: string; verifier: string; redirectUri: string },
    ctx: LoginContext,
  ): Promise<LoginResult>;
}

/** What starting a device login gives: what to show the operator, and what polling needs (kept encrypted). */
export interface DeviceStart {
  verificationUrl: string;
  userCode: string;
  intervalSeconds: number;
  /** How long the device code is valid; the session lives as long (capped), default 5 minutes. */
  expiresInSeconds?: number;
  pollData: Record<string, unknown>;
}

export type DevicePoll =
  | { status: 'pending'; /** slow_down: poll less often from now on. */ intervalSeconds?: number }
  | { status: 'done'; result: LoginResult };

/** Device-code login (RFC 8628 or a provider's variant): the operator types a code elsewhere while we poll. */
export interface DeviceLoginFlow extends FlowIdentity {
  readonly kind: 'device';
  start(ctx: LoginContext): Promise<DeviceStart>;
  /** One poll; throws LoginError when the login failed for good (denied, expired). */
  poll(pollData: Record<string, unknown>, ctx: LoginContext): Promise<DevicePoll>;
}

export type LoginFlow = RedirectLoginFlow | DeviceLoginFlow;

/** Longest a login request to a provider may take. */
export const LOGIN_REQUEST_TIMEOUT_MS = 20_000;

async function send(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  payload?: string,
): Promise<LoginHttpResponse> {
  try {
    const res = await request(url, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(LOGIN_REQUEST_TIMEOUT_MS),
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, body: parsed };
  } catch (error) {
    // The error code only: messages may quote URLs with credentials (iFlow's user info carries the token in its query).
    const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
    throw new LoginUnreachableError(`${new URL(url).host} unreachable${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/** LoginHttp over undici (direct connection). */
export const undiciLoginHttp: LoginHttp = {
  post(url, body, headers = {}) {
    const isJson = 'json' in body;
    const payload = isJson ? JSON.stringify(body.json) : new URLSearchParams(body.form).toString();
    const contentType = isJson ? 'application/json' : 'application/x-www-form-urlencoded';
    return send(url, 'POST', { 'content-type': contentType, accept: 'application/json', ...headers }, payload);
  },
  get(url, headers = {}) {
    return send(url, 'GET', { accept: 'application/json', ...headers });
  },
};

/** The context's sleep, else a timer. */
export const loginSleep = (ctx: LoginContext, ms: number): Promise<void> =>
  ctx.sleep ? ctx.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));

/** A non-2xx answer of a token endpoint as a LoginError naming status and OAuth error code, never the secrets sent. */
export function tokenEndpointFailure(family: string, res: LoginHttpResponse, secrets: string[]): LoginError {
  return new LoginError(describeFailure(family, res.status, res.body, secrets).message);
}

export const isSuccess = (status: number): boolean => status >= 200 && status < 300;

/** A file-name part made safe for authFileNameProblem (no path separators). */
export const fileNamePart = (value: string): string => value.trim().replace(/[/\\\s]+/g, '_');
