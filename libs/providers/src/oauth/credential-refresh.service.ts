import { setTimeout as delay } from 'node:timers/promises';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { authFileCredentialId, effectiveProxyUrl, SettingKeys } from '@cpa/config';
import { CredentialStatuses } from '@cpa/contracts';
import {
  ConflictError,
  CredentialRepository,
  NotFoundError,
  SettingsRepository,
  UnitOfWork,
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
   * `shared`: the other credentials of the same login (projects of one gemini file) given the
   * same new tokens; `reactivated`: those of them that had been marked needs_login.
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
  /** `shared`: the other credentials of the same login, given the same failure. */
  | {
      status: 'failed';
      credentialId: string;
      error: string;
      permanent: boolean;
      retryAt: Date;
      shared?: string[];
    };

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

/** A credential with its decrypted OAuth secret. */
interface LoadedCredential {
  record: CredentialRecord;
  secret: OAuthSecret;
}

/**
 * Refreshes one credential's OAuth tokens in Postgres. Safe to call from any number of
 * processes at once: the credential is claimed first with an optimistic-lock write of
 * `nextRefreshAt = now + 1 min` (the Go original's pending backoff), so only one caller
 * reaches the token endpoint; the others find it claimed and skip.
 *
 * A gemini token file with several projects is one Google login stored once per project
 * (siblings). The claim covers the login: every sibling holding the same refresh token is
 * claimed in the same transaction, so no sibling presents a refresh token that a rotating
 * endpoint has just spent (which would refuse it and mark a working login as needing a new
 * one). The new tokens, or the failure, then go to every sibling.
 */
@Injectable()
export class CredentialRefreshService {
  private readonly logger = new Logger('CredentialRefresh');

  constructor(
    private readonly credentials: CredentialRepository,
    /** For claims of several siblings at once. */
    private readonly uow: UnitOfWork,
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
    const refreshToken = secret.refreshToken?.trim() ?? '';
    const claim = await this.claimLogin(record, await this.siblingsHolding(record, refreshToken), now);
    if (typeof claim === 'string') return skipped(credentialId, claim);
    const { claimed, siblings } = claim;

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
      return this.recordFailure({ record: claimed, secret }, siblings, refreshToken, error, now);
    }
    return this.store({ record: claimed, secret }, siblings, refreshToken, tokens, now);
  }

  /**
   * Claims the credential and the siblings holding its refresh token, all or none, in one
   * transaction (in id order, so two claims of one login never deadlock): `busy` when a
   * sibling's refresh is already in flight or another writer got there first, `missing` when
   * one of them was deleted meanwhile.
   */
  private async claimLogin(
    record: CredentialRecord,
    siblings: LoadedCredential[],
    now: Date,
  ): Promise<{ claimed: CredentialRecord; siblings: LoadedCredential[] } | 'busy' | 'missing'> {
    if (siblings.some(({ record: sibling }) => refreshInFlight(sibling, now))) return 'busy';
    const patch = { nextRefreshAt: new Date(now.getTime() + REFRESH_PENDING_BACKOFF_MS) };
    const rows = [record, ...siblings.map((sibling) => sibling.record)].sort((a, b) => a.id.localeCompare(b.id));
    try {
      const claimed = new Map<string, CredentialRecord>();
      if (rows.length === 1) claimed.set(record.id, await this.credentials.update(record.id, record.version, patch));
      else
        await this.uow.run(async ({ credentials }) => {
          for (const row of rows) claimed.set(row.id, await credentials.update(row.id, row.version, patch));
        });
      return {
        claimed: claimed.get(record.id)!,
        siblings: siblings.map(({ record: sibling, secret }) => ({ record: claimed.get(sibling.id)!, secret })),
      };
    } catch (error) {
      if (error instanceof ConflictError) return 'busy';
      if (error instanceof NotFoundError) return 'missing';
      throw error;
    }
  }

  /**
   * The other projects of the gemini token file `record` came from that hold `refreshToken`:
   * one Google login (none for any other credential).
   */
  private async siblingsHolding(record: CredentialRecord, refreshToken: string): Promise<LoadedCredential[]> {
    const { fileName, fileProjects } = record.attributes as { fileName?: unknown; fileProjects?: unknown };
    if (!refreshToken || typeof fileName !== 'string' || !Array.isArray(fileProjects) || fileProjects.length < 2)
      return [];
    const siblings: LoadedCredential[] = [];
    for (const project of fileProjects) {
      if (typeof project !== 'string') continue;
      const id = authFileCredentialId(fileName, project);
      if (id === record.id) continue;
      const sibling = await this.load(id);
      if (
        sibling &&
        sibling.record.provider === record.provider &&
        (sibling.secret.refreshToken?.trim() ?? '') === refreshToken
      )
        siblings.push(sibling);
    }
    return siblings;
  }

  private async store(
    { record: claimed, secret }: LoadedCredential,
    siblings: LoadedCredential[],
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
    const { shared, reactivated } = await this.shareWithSiblings(siblings, refreshToken, patch);
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
   * The new tokens go to the claimed siblings, which hold the refresh token they replace: a
   * rotating endpoint has spent it. A sibling marked needs_login is active again: the login is
   * evidently valid.
   */
  private async shareWithSiblings(
    siblings: LoadedCredential[],
    spentRefreshToken: string,
    patch: (current: CredentialRecord, currentSecret: OAuthSecret) => CredentialPatch,
  ): Promise<{ shared: string[]; reactivated: string[] }> {
    const shared: string[] = [];
    const reactivated: string[] = [];
    for (const sibling of siblings) {
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

  /** The failure goes to the claimed siblings too: they hold the same login. */
  private async recordFailure(
    claimed: LoadedCredential,
    siblings: LoadedCredential[],
    refreshToken: string,
    error: OAuthRefreshError,
    now: Date,
  ): Promise<RefreshOutcome> {
    const retryAt = new Date(now.getTime() + REFRESH_FAILURE_BACKOFF_MS);
    const fail = async ({ record, secret }: LoadedCredential) => {
      const written = await this.writeUnlessRotated(record, secret, refreshToken, () => ({
        nextRefreshAt: retryAt,
        // A refused grant needs a new login: out of routing and of the refresh scan until a
        // new secret is written. A transient failure leaves the status alone.
        ...(error.permanent ? { status: CredentialStatuses.needsLogin, statusMessage: error.message } : {}),
      }));
      if (written === 'missing' || written === 'refreshed-elsewhere') return written;
      await this.credentials.setLastError(written.id, error.message);
      return written;
    };
    const written = await fail(claimed);
    if (written === 'missing' || written === 'refreshed-elsewhere') return skipped(claimed.record.id, written);
    const shared: string[] = [];
    for (const sibling of siblings) {
      const result = await fail(sibling);
      if (typeof result !== 'string') shared.push(result.id);
    }
    this.logger.warn(
      `credential ${written.id} (${written.provider})${shared.length ? ` and ${shared.length} sibling(s)` : ''} refresh failed: ${error.message}; next attempt ${retryAt.toISOString()}`,
    );
    return {
      status: 'failed',
      credentialId: written.id,
      error: error.message,
      permanent: error.permanent,
      retryAt,
      ...(shared.length ? { shared } : {}),
    };
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

/** A claim of the credential is still running (see claimPending). */
function refreshInFlight(record: CredentialRecord, now: Date): boolean {
  return record.nextRefreshAt !== null && now.getTime() < record.nextRefreshAt.getTime() && claimPending(record);
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
