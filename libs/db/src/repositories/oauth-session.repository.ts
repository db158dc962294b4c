import { Injectable } from '@nestjs/common';
import { SecretBox } from '../crypto/secret-box';
import type { OAuthSession } from '../generated/prisma/client';
import type { JsonObject } from '../json';
import { PrismaService } from '../prisma.service';

/** A login session lives this long unless its flow asks for longer (device codes). */
export const OAUTH_SESSION_TTL_MS = 5 * 60_000;
/** Finished and expired sessions are kept this long for get-auth-status, then purged. */
export const OAUTH_SESSION_RETENTION_MS = 60 * 60_000;
const DEFAULT_POLL_INTERVAL_MS = 5_000;

/**
 * pending: waiting for the provider's redirect (or the device code to be entered);
 * exchanging: a callback claimed the state and is exchanging the code;
 * ok: the credential is stored; error: the login failed (`error` says why).
 */
export const OAuthSessionStatuses = { pending: 'pending', exchanging: 'exchanging', ok: 'ok', error: 'error' } as const;
export type OAuthSessionStatus = (typeof OAuthSessionStatuses)[keyof typeof OAuthSessionStatuses];

/** A session without its secret. */
export interface OAuthSessionRecord {
  state: string;
  provider: string;
  status: OAuthSessionStatus;
  error: string;
  credentialId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewOAuthSession {
  state: string;
  provider: string;
  /** What finishing the login needs and nobody may read: PKCE verifier, redirect URI, device code. */
  secret: JsonObject;
  ttlMs?: number;
  now?: Date;
}

/** Why a state cannot be used (any more). */
export type OAuthSessionRefusal = 'unknown' | 'expired' | 'used' | 'failed';

export type OAuthSessionClaim =
  | { claimed: true; session: OAuthSessionRecord; secret: JsonObject }
  | { claimed: false; reason: OAuthSessionRefusal; session?: OAuthSessionRecord };

export type OAuthPollClaim =
  | { claimed: true; session: OAuthSessionRecord; secret: JsonObject }
  | { claimed: false; reason: OAuthSessionRefusal | 'not-due'; session?: OAuthSessionRecord };

/**
 * Login sessions (OAuthSession): one row per state, the secret encrypted at rest. Every
 * transition is one conditional UPDATE, so any number of admin replicas (and the login
 * command) can race on a state and exactly one wins.
 */
@Injectable()
export class OAuthSessionRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly box: SecretBox,
  ) {}

  /** Stores a new pending session; purges sessions finished or expired longer ago than the retention. */
  async create(input: NewOAuthSession): Promise<OAuthSessionRecord> {
    const now = input.now ?? new Date();
    await this.prisma.oAuthSession.deleteMany({
      where: { expiresAt: { lt: new Date(now.getTime() - OAUTH_SESSION_RETENTION_MS) } },
    });
    const row = await this.prisma.oAuthSession.create({
      data: {
        state: input.state,
        provider: input.provider,
        status: OAuthSessionStatuses.pending,
        secretEnc: this.seal(input.secret),
        createdAt: now,
        expiresAt: new Date(now.getTime() + (input.ttlMs ?? OAUTH_SESSION_TTL_MS)),
      },
    });
    return toRecord(row);
  }

  async get(state: string): Promise<OAuthSessionRecord | null> {
    const row = await this.prisma.oAuthSession.findUnique({ where: { state } });
    return row ? toRecord(row) : null;
  }

  /**
   * Takes a pending, unexpired session for its one code exchange (pending -> exchanging).
   * Only one caller ever gets `claimed: true` for a state; the others learn why not.
   */
  async claim(state: string, now = new Date()): Promise<OAuthSessionClaim> {
    const { count } = await this.prisma.oAuthSession.updateMany({
      where: { state, status: OAuthSessionStatuses.pending, expiresAt: { gt: now } },
      data: { status: OAuthSessionStatuses.exchanging },
    });
    const row = await this.prisma.oAuthSession.findUnique({ where: { state } });
    if (count === 1 && row) return { claimed: true, session: toRecord(row), secret: this.open(row.secretEnc) };
    return { claimed: false, ...refusalOf(row, now) };
  }

  /**
   * Takes a pending device session for one poll when it is due (`secret.nextPollAt`, epoch
   * ms, passed) and moves `nextPollAt` on by `secret.intervalMs` (default 5 s): a
   * compare-and-swap on the sealed secret, so one poller at a time talks to the provider; a
   * poller that dies only delays the next poll until `nextPollAt`.
   */
  async claimPoll(state: string, now = new Date()): Promise<OAuthPollClaim> {
    const row = await this.prisma.oAuthSession.findUnique({ where: { state } });
    if (!row || row.status !== OAuthSessionStatuses.pending || row.expiresAt <= now)
      return { claimed: false, ...refusalOf(row, now) };
    const secret = this.open(row.secretEnc);
    const due = typeof secret.nextPollAt === 'number' ? secret.nextPollAt : 0;
    if (due > now.getTime()) return { claimed: false, reason: 'not-due', session: toRecord(row) };
    const intervalMs =
      typeof secret.intervalMs === 'number' && secret.intervalMs > 0 ? secret.intervalMs : DEFAULT_POLL_INTERVAL_MS;
    const next = { ...secret, nextPollAt: now.getTime() + intervalMs };
    const { count } = await this.prisma.oAuthSession.updateMany({
      where: { state, status: OAuthSessionStatuses.pending, secretEnc: row.secretEnc },
      data: { secretEnc: this.seal(next) },
    });
    if (count !== 1) return { claimed: false, reason: 'not-due', session: toRecord(row) };
    return { claimed: true, session: toRecord(row), secret: next };
  }

  /** Replaces the secret of a pending session (a device flow slowing down). */
  async updateSecret(state: string, secret: JsonObject): Promise<boolean> {
    const { count } = await this.prisma.oAuthSession.updateMany({
      where: { state, status: OAuthSessionStatuses.pending },
      data: { secretEnc: this.seal(secret) },
    });
    return count === 1;
  }

  /** The login stored its credential; the secret is dropped (it is of no further use). */
  async complete(state: string, credentialId: string): Promise<boolean> {
    const { count } = await this.prisma.oAuthSession.updateMany({
      where: { state, status: { in: [OAuthSessionStatuses.pending, OAuthSessionStatuses.exchanging] } },
      data: { status: OAuthSessionStatuses.ok, credentialId, secretEnc: '', error: '' },
    });
    return count === 1;
  }

  /** The login failed; `message` is shown to the operator (it must carry no secret). */
  async fail(state: string, message: string): Promise<boolean> {
    const { count } = await this.prisma.oAuthSession.updateMany({
      where: { state, status: { in: [OAuthSessionStatuses.pending, OAuthSessionStatuses.exchanging] } },
      data: { status: OAuthSessionStatuses.error, error: message.slice(0, 500), secretEnc: '' },
    });
    return count === 1;
  }

  private seal(secret: JsonObject): string {
    return this.box.encrypt(JSON.stringify(secret));
  }

  private open(secretEnc: string): JsonObject {
    return secretEnc ? (JSON.parse(this.box.decrypt(secretEnc)) as JsonObject) : {};
  }
}

function toRecord(row: OAuthSession): OAuthSessionRecord {
  return {
    state: row.state,
    provider: row.provider,
    status: row.status as OAuthSessionStatus,
    error: row.error,
    credentialId: row.credentialId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
  };
}

/** Why a session that could not be claimed is not usable. */
function refusalOf(row: OAuthSession | null, now: Date): { reason: OAuthSessionRefusal; session?: OAuthSessionRecord } {
  if (!row) return { reason: 'unknown' };
  const session = toRecord(row);
  if (row.status === OAuthSessionStatuses.ok || row.status === OAuthSessionStatuses.exchanging)
    return { reason: 'used', session };
  if (row.status === OAuthSessionStatuses.error) return { reason: 'failed', session };
  if (row.expiresAt <= now) return { reason: 'expired', session };
  // Pending and unexpired, yet not claimed: another caller won the race this instant.
  return { reason: 'used', session };
}
