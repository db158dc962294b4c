import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { parseTokenFile, saveAuthFile, TokenFileError } from '@cpa/config';
import {
  AuditRepository,
  OAUTH_SESSION_TTL_MS,
  OAuthSessionRepository,
  SecretBox,
  UnitOfWork,
  type OAuthSessionRecord,
  type OAuthSessionRefusal,
} from '@cpa/db';
import {
  callbackRouteOf,
  createPkce,
  createState,
  findLoginFlow,
  isValidState,
  LOGIN_FLOWS,
  LOGIN_ROUTES,
  LoginError,
  loginFlowForRoute,
  LoginUnreachableError,
  parseRedirect,
  undiciLoginHttp,
  type DeviceLoginFlow,
  type LoginContext,
  type LoginFlow,
  type LoginHttp,
  type LoginResult,
  type RedirectLoginFlow,
} from '@cpa/providers';
import { z } from 'zod';
import { UPLOAD_SOURCE } from './auth-files.service';
import { ChangeNotifier } from './change-notifier';
import { ManagementError } from './management-error';

/** Overrides the HTTP the login flows use (tests); default undiciLoginHttp. */
export const LOGIN_HTTP = Symbol('LOGIN_HTTP');

/** Device sessions live as long as their code, at most this long. */
const MAX_DEVICE_SESSION_MS = 15 * 60_000;

/** `GET /<route>-auth-url`: CLIProxyAPI's answer (device flows add flow, user_code, expires_in). */
export interface LoginStart {
  status: 'ok';
  url: string;
  state: string;
  flow?: 'device';
  user_code?: string;
  expires_in?: number;
}

/** `GET /get-auth-status`. */
export type LoginStatus =
  { status: 'wait' } | { status: 'ok'; auth_index: string } | { status: 'error'; error: string };

/** A finished callback: the stored credential. */
export interface LoginDone {
  state: string;
  authIndex: string;
  fileName: string;
}

/** A refused login request; `status` is the HTTP status, the message is for the operator. */
export class LoginRequestError extends ManagementError {}

const CallbackSchema = z.object({
  provider: z.string().trim().optional(),
  redirect_url: z.string().trim().optional(),
  code: z.string().trim().optional(),
  state: z.string().trim().optional(),
  error: z.string().trim().optional(),
});
export type LoginCallback = z.infer<typeof CallbackSchema>;

/** What a session keeps encrypted until the login finishes. */
const RedirectSecretSchema = z.object({ flow: z.string(), verifier: z.string(), redirectUri: z.string() });
const DeviceSecretSchema = z.looseObject({
  flow: z.string(),
  pollData: z.record(z.string(), z.unknown()),
  intervalMs: z.number().optional(),
});

const REFUSALS: Record<OAuthSessionRefusal, (session?: OAuthSessionRecord) => LoginRequestError> = {
  unknown: () => new LoginRequestError(404, 'unknown or expired state: no login was started with it here'),
  expired: () =>
    new LoginRequestError(
      410,
      `login expired: a login must finish within ${OAUTH_SESSION_TTL_MS / 60_000} minutes; start a new one`,
    ),
  used: () => new LoginRequestError(409, 'state already used: this login was already completed'),
  failed: (session) =>
    new LoginRequestError(409, `this login already failed: ${session?.error || 'Authentication failed'}`),
};

/**
 * Logs accounts in: starts a family's flow, finishes it from the provider's redirect (any
 * admin replica, the gateway's browser callback, or `npm run login`'s listener), and stores
 * the tokens as the token file CLIProxyAPI would have written, so a login and an imported
 * file of the same account are the same credential. Sessions live in Postgres (5 minutes,
 * each state usable once); every stored login is broadcast so all pods route with it at once
 * and the refresh worker schedules it.
 */
@Injectable()
export class OAuthLoginService {
  private readonly logger = new Logger('OAuthLogin');
  private readonly http: LoginHttp;

  constructor(
    private readonly sessions: OAuthSessionRepository,
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
    @Optional() @Inject(LOGIN_HTTP) http?: LoginHttp,
  ) {
    this.http = http ?? undiciLoginHttp;
  }

  /** `GET /<route>-auth-url[?flow=device]`. */
  startRoute(route: string, device = false): Promise<LoginStart> {
    if (!(LOGIN_ROUTES as readonly string[]).includes(route))
      throw new LoginRequestError(404, `unknown login "${route}"`);
    const flow = loginFlowForRoute(route, device);
    if (!flow) {
      throw new LoginRequestError(
        501,
        device ? `${route} has no device login` : `login for ${route} is not available in this version`,
      );
    }
    return this.start(flow);
  }

  /** Starts a flow; `callbackPort` puts the redirect URI on another local port (the login command). */
  async start(flow: LoginFlow, options: { callbackPort?: number; actor?: string } = {}): Promise<LoginStart> {
    const state = createState();
    const now = new Date();
    if (flow.kind === 'redirect') {
      const pkce = createPkce();
      const redirectUri = flow.redirectUri(options.callbackPort);
      await this.sessions.create({
        state,
        provider: flow.provider,
        secret: { flow: flow.name, verifier: pkce.verifier, redirectUri },
        now,
      });
      return { status: 'ok', url: flow.authorizeUrl({ state, pkce, redirectUri, env: process.env }), state };
    }
    const device = await this.guard(() => flow.start(this.context(now)), 502);
    const intervalMs = device.intervalSeconds * 1000;
    const ttlMs = Math.min(
      Math.max((device.expiresInSeconds ?? 0) * 1000, OAUTH_SESSION_TTL_MS),
      MAX_DEVICE_SESSION_MS,
    );
    await this.sessions.create({
      state,
      provider: flow.provider,
      secret: { flow: flow.name, pollData: device.pollData, intervalMs, nextPollAt: now.getTime() + intervalMs },
      ttlMs,
      now,
    });
    return {
      status: 'ok',
      url: device.verificationUrl,
      state,
      flow: 'device',
      user_code: device.userCode,
      expires_in: Math.round(ttlMs / 1000),
    };
  }

  /**
   * `POST /oauth-callback` ({provider, redirect_url} | {provider, code, state} | {provider, error})
   * and the browser callbacks (`provider` = the route of `/<route>/callback`). Claims the state
   * (once), exchanges the code and stores the credential.
   */
  async callback(body: unknown): Promise<LoginDone> {
    const parsed = CallbackSchema.safeParse(body ?? {});
    if (!parsed.success) throw new LoginRequestError(400, 'invalid body');
    const input = parsed.data;
    const fromUrl = input.redirect_url ? parseRedirect(input.redirect_url) : {};
    if (input.redirect_url && !fromUrl.code && !fromUrl.state && !fromUrl.error)
      throw new LoginRequestError(400, 'invalid redirect_url');
    const fromCode = input.code ? parseRedirect(input.code) : {};
    const code = fromCode.code ?? fromUrl.code;
    const codeState = fromCode.codeState ?? fromUrl.codeState;
    const state = input.state || fromUrl.state || codeState;
    const error = input.error || fromUrl.error;
    if (!state) throw new LoginRequestError(400, 'state is required');
    if (!isValidState(state)) throw new LoginRequestError(400, 'invalid state');
    if (codeState && codeState !== state)
      throw new LoginRequestError(400, 'the code carries another state than the one given');
    if (!code && !error) throw new LoginRequestError(400, 'code or error is required');

    const session = await this.sessions.get(state);
    if (!session) throw REFUSALS.unknown();
    if (input.provider) {
      const named =
        findLoginFlow(input.provider) ??
        LOGIN_FLOWS.find((flow) => callbackRouteOf(flow) === input.provider!.toLowerCase());
      if (!named) throw new LoginRequestError(400, 'unsupported provider');
      if (named.provider !== session.provider) throw new LoginRequestError(400, 'provider does not match state');
    }
    const claim = await this.sessions.claim(state);
    if (!claim.claimed) throw REFUSALS[claim.reason](claim.session);
    if (error) {
      // The provider's error code as it sent it (e.g. access_denied); it carries no secret.
      const message = `the provider refused the login: ${error.slice(0, 200)}`;
      await this.sessions.fail(state, message);
      throw new LoginRequestError(400, message);
    }
    const secret = RedirectSecretSchema.safeParse(claim.secret);
    const flow = secret.success ? findLoginFlow(secret.data.flow) : undefined;
    if (!secret.success || flow?.kind !== 'redirect') {
      await this.sessions.fail(state, 'this state does not belong to a browser login');
      throw new LoginRequestError(400, 'this state does not belong to a browser login');
    }
    return this.finish(state, flow, () =>
      (flow as RedirectLoginFlow).exchange(
        { code: code!, state, verifier: secret.data.verifier, redirectUri: secret.data.redirectUri },
        this.context(new Date()),
      ),
    );
  }

  /** `GET /get-auth-status?state=`: wait, ok (with the credential's auth_index) or error; device logins poll here when due. */
  async status(state: string | undefined): Promise<LoginStatus> {
    const key = state?.trim() ?? '';
    if (!key) throw new LoginRequestError(400, 'state is required');
    if (!isValidState(key)) throw new LoginRequestError(400, 'invalid state');
    let session = await this.sessions.get(key);
    if (session?.status === 'pending' && session.expiresAt > new Date()) {
      await this.pollDevice(key);
      session = await this.sessions.get(key);
    }
    return statusOf(session);
  }

  /** One device poll when due; a poll that cannot reach the provider leaves the session waiting. */
  private async pollDevice(state: string): Promise<void> {
    const claim = await this.sessions.claimPoll(state);
    if (!claim.claimed) return;
    const secret = DeviceSecretSchema.safeParse(claim.secret);
    const flow = secret.success ? findLoginFlow(secret.data.flow) : undefined;
    if (!secret.success || flow?.kind !== 'device') return; // a browser login: nothing to poll
    const now = new Date();
    let poll;
    try {
      poll = await (flow as DeviceLoginFlow).poll(secret.data.pollData, this.context(now));
    } catch (error) {
      if (error instanceof LoginUnreachableError) return;
      await this.sessions.fail(state, loginMessage(error));
      return;
    }
    if (poll.status === 'pending') {
      if (poll.intervalSeconds) {
        const intervalMs = poll.intervalSeconds * 1000;
        await this.sessions.updateSecret(state, {
          ...claim.secret,
          intervalMs,
          nextPollAt: now.getTime() + intervalMs,
        });
      }
      return;
    }
    await this.finish(state, flow, () => Promise.resolve(poll.result)).catch(() => undefined);
  }

  /** Runs the exchange, stores the token file and completes the session; failures end the session with the reason. */
  private async finish(state: string, flow: LoginFlow, exchange: () => Promise<LoginResult>): Promise<LoginDone> {
    let result: LoginResult;
    try {
      result = await exchange();
    } catch (error) {
      const message = `token exchange failed: ${loginMessage(error)}`;
      await this.sessions.fail(state, message);
      throw new LoginRequestError(502, message);
    }
    let ids: string[];
    try {
      ids = await this.store(result, flow);
    } catch (error) {
      const message =
        error instanceof TokenFileError
          ? `the login answer cannot be stored: ${error.reason}`
          : 'failed to save authentication tokens';
      if (!(error instanceof TokenFileError))
        this.logger.error(`${flow.name} login not stored: ${(error as Error).name}`);
      await this.sessions.fail(state, message);
      throw new LoginRequestError(500, message);
    }
    await this.sessions.complete(state, ids[0]);
    return { state, authIndex: ids[0], fileName: result.fileName };
  }

  /** The token file through the same codec and store as imported files, then the broadcast. */
  private async store(result: LoginResult, flow: LoginFlow): Promise<string[]> {
    const drafts = parseTokenFile(result.fileName, result.tokenFile);
    const saved = await saveAuthFile(this.uow, this.box, drafts, UPLOAD_SOURCE);
    await this.audit.record('oauth-login', 'auth-file.login', saved.name, {
      flow: flow.name,
      outcome: saved.outcome,
      credentials: saved.credentialIds,
    });
    await this.notifier.configChanged(['auth-files'], [...saved.credentialIds, ...saved.removedIds]);
    return saved.credentialIds;
  }

  private context(now: Date): LoginContext {
    return { env: process.env, http: this.http, now };
  }

  private async guard<T>(run: () => Promise<T>, status: number): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new LoginRequestError(status, loginMessage(error));
    }
  }
}

/** A login failure as the operator may see it: LoginError messages are written to be safe, anything else is not shown. */
function loginMessage(error: unknown): string {
  return error instanceof LoginError ? error.message : 'Authentication failed';
}

function statusOf(session: OAuthSessionRecord | null, now = new Date()): LoginStatus {
  if (!session) return { status: 'error', error: 'unknown or expired state' };
  if (session.status === 'ok' && session.credentialId) return { status: 'ok', auth_index: session.credentialId };
  if (session.status === 'error') return { status: 'error', error: session.error || 'Authentication failed' };
  if (session.expiresAt <= now)
    return { status: 'error', error: 'login expired: it was not finished in time; start a new one' };
  return { status: 'wait' };
}
