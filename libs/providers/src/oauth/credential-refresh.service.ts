import { setTimeout as delay } from 'node:timers/promises';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { authFileCredentialId, effectiveProxyUrl, SettingKeys } from '@cpa/config';
import { CredentialStatuses } from '@cpa/contracts';
import {
  ConflictError,
  CredentialRepository,
  NotFoundError,
  SettingsRepository,
  type CredentialFilter,
  type CredentialPatch,
  type CredentialRecord,
} from '@cpa/db';
import { oauthFamilyOf, REFRESH_FAILURE_BACKOFF_MS, REFRESH_PENDING_BACKOFF_MS, shouldRefresh } from './policy';
import { TOKEN_REFRESHERS, type TokenRefresher } from './refreshers';
import {
  applyTokenSet,
  OAuthSecretSchema,
  secretExpiry,
  tokenFingerprint,
  type OAuthSecret,
  type TokenSet,
} from './secret';
import { InvalidServiceAccountError } from './service-account';
import { OAuthRefreshError, TokenClient } from './token-client';

export type SkipReason =
  /** The credential no longer exists. */
  | 'missing'
  /** Not an OAuth credential of a family with a token refresher. */
  | 'unsupported'
  /** Not due (fresh token, backoff, disabled). */
  | 'not-due'
  /** Another writer changed the credential between reading and claiming it. */
  | 'busy'
  /** Someone else stored different tokens meanwhile; theirs win. */
  | 'refreshed-elsewhere';

export type RefreshOutcome =
  /**
   * `shared`: other credentials of the same login (projects of one gemini file) given the same
   * new tokens; `reactivated`: those of them that had been marked needs_login.
   */
  | {
      status: 'refreshed';
      credentialId: string;
      version: number;
      expiresAt: Date | null;
      shared?: string[];
      reactivated?: string[];
    }
  /** Refresh-on-401: the stored access token is no longer the refused one (rotated meanwhile). */
  | { status: 'current'; credentialId: string; version: number }
  | { status: 'skipped'; credentialId: string; reason: SkipReason }
  | { status: 'failed'; credentialId: string; error: string; permanent: boolean; retryAt: Date };

/** Longest a refresh-on-401 waits for a refresh someone else is running. */
export const REJECTED_REFRESH_WAIT_MS = 10_000;
const CLAIM_POLL_MS = 200;

/** Most writes of a failure attempted when other writers keep bumping the version (e.g. admin edits). */
const MAX_WRITE_ATTEMPTS = 3;
/**
 * How long new tokens are retried into Postgres (conflicts, connection trouble). They exist
 * nowhere else, and a rotating endpoint has already spent the refresh token they replace,
 * so giving up early would leave the credential needing a new login.
 */
export const TOKEN_WRITE_RETRY_MS = 10 * 60_000;
const WRITE_BACKOFF_MIN_MS = 100;
const WRITE_BACKOFF_MAX_MS = 5_000;

/**
 * Refreshes one credential's OAuth tokens in Postgres. Safe to call from any number of
 * processes at once: the credential is claimed first with an optimistic-lock write of
 * `nextRefreshAt = now + 1 min` (the Go original's pending backoff), so only one caller
 * reaches the token endpoint; the others find it claimed and skip.
 */
@Injectable()
export class CredentialRefreshService {
  private readonly logger = new Logger('CredentialRefresh');

  constructor(
    private readonly credentials: CredentialRepository,
    private readonly tokens: TokenClient,
    /** The global `proxy-url`; without it refreshes use only the credential's own proxy. */
    @Optional() private readonly settings?: SettingsRepository,
  ) {}

  /** Ids of the credentials whose tokens are due now (by the columns; the job re-checks with the secret). */
  async dueCredentialIds(now: Date = new Date(), filter: CredentialFilter = {}): Promise<string[]> {
    const all = await this.credentials.list(filter);
    return all.filter((credential) => shouldRefresh(credential, now)).map((credential) => credential.id);
  }

  /** Refreshes the credential when it is due (see `shouldRefresh`). */
  refresh(credentialId: string, now: Date = new Date()): Promise<RefreshOutcome> {
    return this.run(credentialId, now);
  }

  /**
   * Refresh-on-401: the upstream refused the access token with this fingerprint
   * (`tokenFingerprint`), so it is refreshed now whatever its expiry says — unless the
   * stored token already differs (rotated meanwhile: `current`), or a refresh is claimed
   * by someone else or backing off after a failure (`not-due`: a token endpoint is not
   * asked twice with the same refresh token).
   */
  async refreshRejected(
    credentialId: string,
    rejectedToken: string,
    waitMs = REJECTED_REFRESH_WAIT_MS,
  ): Promise<RefreshOutcome> {
    // While another refresh holds the claim, wait for its tokens rather than failing: a 401
    // reported to the scheduler would cool the credential down for 30 minutes.
    const deadline = Date.now() + waitMs;
    for (;;) {
      const outcome = await this.run(credentialId, new Date(), rejectedToken);
      if (!(outcome.status === 'skipped' && outcome.reason === 'busy') || Date.now() >= deadline) return outcome;
      await delay(CLAIM_POLL_MS);
    }
  }

  private async run(credentialId: string, now: Date, rejectedToken?: string): Promise<RefreshOutcome> {
    const loaded = await this.load(credentialId);
    if (!loaded) return skipped(credentialId, 'missing');
    const { record, secret } = loaded;
    const family = oauthFamilyOf(record.provider);
    if (record.kind !== 'oauth' || !family) return skipped(credentialId, 'unsupported');
    if (rejectedToken !== undefined) {
      if (tokenFingerprint(secret.accessToken ?? '') !== rejectedToken)
        return { status: 'current', credentialId, version: record.version };
      if (record.disabled || record.status === CredentialStatuses.needsLogin) return skipped(credentialId, 'not-due');
      if (record.nextRefreshAt && now.getTime() < record.nextRefreshAt.getTime())
        return skipped(credentialId, claimPending(record) ? 'busy' : 'not-due');
    } else if (!shouldRefresh({ ...record, secret }, now)) {
      await this.backfillExpiry(record, secret);
      return skipped(credentialId, 'not-due');
    }

    const globalProxyUrl = await this.settings?.get(SettingKeys.proxyUrl);
    let claimed: CredentialRecord;
    try {
      claimed = await this.credentials.update(credentialId, record.version, {
        nextRefreshAt: new Date(now.getTime() + REFRESH_PENDING_BACKOFF_MS),
      });
    } catch (error) {
      if (error instanceof ConflictError) return skipped(credentialId, 'busy');
      throw error;
    }

    const refreshToken = secret.refreshToken?.trim() ?? '';
    let tokens: TokenSet;
    try {
      const refresher = TOKEN_REFRESHERS[family];
      const grant = grantOf(refresher, secret, refreshToken, now);
      let proxyUrl: string | undefined;
      try {
        proxyUrl = effectiveProxyUrl(record.proxyUrl, globalProxyUrl);
      } catch (error) {
        throw new OAuthRefreshError((error as Error).message);
      }
      // The token client gives up after TOKEN_REQUEST_TIMEOUT_MS, well inside the claim.
      tokens = await this.tokens.refresh(refresher, grant, { now, proxyUrl, secret, credentialId });
    } catch (error) {
      if (!(error instanceof OAuthRefreshError)) throw error;
      return this.recordFailure(claimed, secret, refreshToken, error, now);
    }
    return this.store(claimed, secret, refreshToken, tokens, now);
  }

  private async store(
    claimed: CredentialRecord,
    secret: OAuthSecret,
    refreshToken: string,
    tokens: TokenSet,
    now: Date,
  ): Promise<RefreshOutcome> {
    const email = typeof tokens.extra.email === 'string' ? tokens.extra.email : '';
    const patch = (current: CredentialRecord, currentSecret: OAuthSecret): CredentialPatch => ({
      secret: applyTokenSet(currentSecret, tokens, now),
      expiresAt: tokens.expiresAt,
      lastRefreshAt: now,
      nextRefreshAt: null,
      status: CredentialStatuses.active,
      statusMessage: '',
      ...(!current.account && email ? { account: email } : {}),
    });
    // The tokens stay in memory until written: retried on conflicts and database trouble.
    const written = await this.writeUnlessRotated(claimed, secret, refreshToken, patch, TOKEN_WRITE_RETRY_MS);
    if (written === 'missing' || written === 'refreshed-elsewhere') return skipped(claimed.id, written);
    if (written.lastError) await this.credentials.setLastError(written.id, '');
    this.logger.log(
      `credential ${written.id} (${written.provider}) refreshed; version ${written.version}, expires ${tokens.expiresAt?.toISOString() ?? 'unknown'}`,
    );
    const { shared, reactivated } = await this.shareWithSiblings(written, refreshToken, patch);
    return {
      status: 'refreshed',
      credentialId: written.id,
      version: written.version,
      expiresAt: tokens.expiresAt,
      ...(shared.length ? { shared } : {}),
      ...(reactivated.length ? { reactivated } : {}),
    };
  }

  /**
   * A gemini token file with several projects is one Google login stored once per project.
   * A token endpoint that rotates refresh tokens has just spent the one they share, so the
   * new tokens go to every sibling still holding it (a sibling that lost the race to the
   * endpoint and was marked needs_login is active again: the login is evidently valid).
   */
  private async shareWithSiblings(
    written: CredentialRecord,
    spentRefreshToken: string,
    patch: (current: CredentialRecord, currentSecret: OAuthSecret) => CredentialPatch,
  ): Promise<{ shared: string[]; reactivated: string[] }> {
    const shared: string[] = [];
    const reactivated: string[] = [];
    const { fileName, fileProjects } = written.attributes as { fileName?: unknown; fileProjects?: unknown };
    if (!spentRefreshToken || typeof fileName !== 'string' || !Array.isArray(fileProjects) || fileProjects.length < 2)
      return { shared, reactivated };
    for (const project of fileProjects) {
      if (typeof project !== 'string') continue;
      const id = authFileCredentialId(fileName, project);
      if (id === written.id) continue;
      const sibling = await this.load(id);
      if (
        !sibling ||
        sibling.record.provider !== written.provider ||
        (sibling.secret.refreshToken?.trim() ?? '') !== spentRefreshToken
      )
        continue;
      const result = await this.writeUnlessRotated(
        sibling.record,
        sibling.secret,
        spentRefreshToken,
        patch,
        TOKEN_WRITE_RETRY_MS,
      );
      if (result === 'missing' || result === 'refreshed-elsewhere') continue;
      if (result.lastError) await this.credentials.setLastError(result.id, '');
      shared.push(result.id);
      if (sibling.record.status === CredentialStatuses.needsLogin) reactivated.push(result.id);
    }
    return { shared, reactivated };
  }

  private async recordFailure(
    claimed: CredentialRecord,
    secret: OAuthSecret,
    refreshToken: string,
    error: OAuthRefreshError,
    now: Date,
  ): Promise<RefreshOutcome> {
    const retryAt = new Date(now.getTime() + REFRESH_FAILURE_BACKOFF_MS);
    const written = await this.writeUnlessRotated(claimed, secret, refreshToken, () => ({
      nextRefreshAt: retryAt,
      // A refused grant needs a new login: out of routing and of the refresh scan until a new
      // secret is written. A transient failure leaves the status alone.
      ...(error.permanent ? { status: CredentialStatuses.needsLogin, statusMessage: error.message } : {}),
    }));
    if (written === 'missing' || written === 'refreshed-elsewhere') return skipped(claimed.id, written);
    await this.credentials.setLastError(written.id, error.message);
    this.logger.warn(
      `credential ${written.id} (${written.provider}) refresh failed: ${error.message}; next attempt ${retryAt.toISOString()}`,
    );
    return { status: 'failed', credentialId: written.id, error: error.message, permanent: error.permanent, retryAt };
  }

  /**
   * An optimistic-lock write that survives unrelated concurrent edits: on conflict it
   * reloads and retries, unless the stored refresh token changed (another refresh or a new
   * login happened, and that writer's tokens win). With `retryMs` (new tokens) it keeps
   * retrying conflicts and failed database calls, backing off, for that long; without it a
   * failure is written at most MAX_WRITE_ATTEMPTS times.
   */
  private async writeUnlessRotated(
    from: CredentialRecord,
    secret: OAuthSecret,
    refreshToken: string,
    patch: (current: CredentialRecord, currentSecret: OAuthSecret) => CredentialPatch,
    retryMs?: number,
  ): Promise<CredentialRecord | 'missing' | 'refreshed-elsewhere'> {
    const giveUpAt = Date.now() + (retryMs ?? 0);
    let current = from;
    let currentSecret = secret;
    let stale = false;
    for (let attempt = 1; ; attempt++) {
      try {
        if (stale) {
          const reloaded = await this.load(current.id);
          if (!reloaded) return 'missing';
          if ((reloaded.secret.refreshToken?.trim() ?? '') !== refreshToken) return 'refreshed-elsewhere';
          ({ record: current, secret: currentSecret } = reloaded);
          stale = false;
        }
        return await this.credentials.update(current.id, current.version, patch(current, currentSecret));
      } catch (error) {
        if (error instanceof NotFoundError) return 'missing';
        const conflict = error instanceof ConflictError;
        if (retryMs === undefined ? !conflict || attempt >= MAX_WRITE_ATTEMPTS : Date.now() >= giveUpAt) {
          if (retryMs !== undefined) {
            this.logger.error(
              `credential ${from.id} (${from.provider}): new tokens could not be stored within ${retryMs} ms and are lost: ${describeError(error)}`,
            );
          }
          throw error;
        }
        if (conflict) {
          stale = true;
          continue;
        }
        const wait = Math.min(WRITE_BACKOFF_MAX_MS, WRITE_BACKOFF_MIN_MS * 2 ** (attempt - 1));
        this.logger.warn(
          `credential ${from.id} (${from.provider}): storing new tokens failed (${describeError(error)}); retrying in ${wait} ms`,
        );
        await delay(wait);
      }
    }
  }

  /**
   * A credential imported with the expiry only inside its secret: copy it to the column so
   * the scan, which reads columns only, stops enqueueing it every round.
   */
  private async backfillExpiry(record: CredentialRecord, secret: OAuthSecret): Promise<void> {
    if (record.expiresAt) return;
    const expiresAt = secretExpiry(secret);
    if (!expiresAt) return;
    try {
      await this.credentials.update(record.id, record.version, { expiresAt });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }

  private async load(id: string): Promise<{ record: CredentialRecord; secret: OAuthSecret } | null> {
    // Record first, secret second: a write in between leaves the record's version stale, so
    // the next versioned write conflicts instead of pairing a newer secret with an old version.
    const record = await this.credentials.get(id);
    if (!record) return null;
    const raw = await this.credentials.getSecret(id);
    if (!raw) return null;
    const parsed = OAuthSecretSchema.safeParse(raw);
    // A malformed secret reads as one without tokens: the refresh then fails with a clear error.
    return { record, secret: parsed.success ? parsed.data : {} };
  }
}

/** The error's class and code only: driver messages may quote the statement and its values. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} ${code}` : error.name;
}

/**
 * What the token endpoint is sent: the stored refresh token, or the family's own grant
 * (Vertex: a JWT signed with the service account). Secrets that cannot make one need a new
 * login or key file: permanent.
 */
function grantOf(refresher: TokenRefresher, secret: OAuthSecret, refreshToken: string, now: Date): string {
  if (!refresher.grantOf) {
    if (!refreshToken) throw new OAuthRefreshError('credential has no refresh token', undefined, undefined, true);
    return refreshToken;
  }
  try {
    return refresher.grantOf(secret, now);
  } catch (error) {
    if (!(error instanceof InvalidServiceAccountError)) throw error;
    throw new OAuthRefreshError(
      `${refresher.family} credential cannot be refreshed: ${error.message}`,
      undefined,
      undefined,
      true,
    );
  }
}

function skipped(credentialId: string, reason: SkipReason): RefreshOutcome {
  return { status: 'skipped', credentialId, reason };
}

/**
 * A refresh is in flight elsewhere: its claim set `nextRefreshAt` one pending backoff
 * ahead of the write. A failure backoff (5 min) is further ahead of its write.
 */
function claimPending(record: CredentialRecord): boolean {
  return (
    record.nextRefreshAt !== null &&
    record.nextRefreshAt.getTime() - record.updatedAt.getTime() <= REFRESH_PENDING_BACKOFF_MS + 1000
  );
}
