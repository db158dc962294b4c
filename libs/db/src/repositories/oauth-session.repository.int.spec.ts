import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing';
import { OAUTH_SESSION_RETENTION_MS, OAUTH_SESSION_TTL_MS, OAuthSessionRepository } from './oauth-session.repository';

let db: TestDatabase;
let repo: OAuthSessionRepository;
let n = 0;
const state = () => `state-${Date.now()}-${++n}`;

beforeAll(async () => {
  db = await createTestDatabase('cpa_oauth_sessions');
  repo = new OAuthSessionRepository(db.prisma, db.box);
});
afterAll(() => db?.close());

describe('OAuthSessionRepository', () => {
  it('stores the secret encrypted and expires sessions after 5 minutes', async () => {
    const s = state();
    const now = new Date();
    const created = await repo.create({
      state: s,
      provider: 'claude',
      secret: { verifier: 'pkce-verifier-secret', redirectUri: 'http://localhost:54545/callback' },
      now,
    });
    expect(created).toMatchObject({ state: s, provider: 'claude', status: 'pending', credentialId: null });
    expect(created.expiresAt.getTime() - now.getTime()).toBe(OAUTH_SESSION_TTL_MS);
    const { rows } = await db.raw.query<{ secret_enc: string }>(
      'SELECT secret_enc FROM oauth_sessions WHERE state = $1',
      [s],
    );
    expect(rows[0].secret_enc).toMatch(/^v1:/);
    expect(rows[0].secret_enc).not.toContain('pkce-verifier-secret');
  });

  it('lets exactly one of many concurrent callers claim a state, and never again', async () => {
    const s = state();
    await repo.create({ state: s, provider: 'codex', secret: { verifier: 'v' } });
    const claims = await Promise.all(Array.from({ length: 8 }, () => repo.claim(s)));
    const winners = claims.filter((c) => c.claimed);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ claimed: true, secret: { verifier: 'v' }, session: { status: 'exchanging' } });
    for (const loser of claims.filter((c) => !c.claimed))
      expect(loser).toMatchObject({ claimed: false, reason: 'used' });

    expect(await repo.complete(s, 'claude-a@b.c.json')).toBe(true);
    expect(await repo.get(s)).toMatchObject({ status: 'ok', credentialId: 'claude-a@b.c.json' });
    expect(await repo.claim(s)).toMatchObject({ claimed: false, reason: 'used' });
    // A finished session keeps no secret.
    const { rows } = await db.raw.query<{ secret_enc: string }>(
      'SELECT secret_enc FROM oauth_sessions WHERE state = $1',
      [s],
    );
    expect(rows[0].secret_enc).toBe('');
  });

  it('refuses expired, unknown and failed states with their reason', async () => {
    const expired = state();
    await repo.create({
      state: expired,
      provider: 'claude',
      secret: {},
      now: new Date(Date.now() - OAUTH_SESSION_TTL_MS - 1000),
    });
    expect(await repo.claim(expired)).toMatchObject({ claimed: false, reason: 'expired' });
    expect(await repo.claim('never-issued')).toEqual({ claimed: false, reason: 'unknown' });

    const failed = state();
    await repo.create({ state: failed, provider: 'claude', secret: {} });
    expect(await repo.fail(failed, 'the provider refused the login: access_denied')).toBe(true);
    expect(await repo.claim(failed)).toMatchObject({
      claimed: false,
      reason: 'failed',
      session: { error: 'the provider refused the login: access_denied' },
    });
    // Finished sessions cannot be finished again.
    expect(await repo.complete(failed, 'x')).toBe(false);
    expect(await repo.fail(failed, 'again')).toBe(false);
  });

  it('hands a device session to one poller per interval', async () => {
    const s = state();
    const now = new Date();
    await repo.create({
      state: s,
      provider: 'codex',
      secret: { pollData: { id: 1 }, intervalMs: 5000, nextPollAt: now.getTime() - 1 },
      now,
    });
    const polls = await Promise.all(Array.from({ length: 6 }, () => repo.claimPoll(s, now)));
    expect(polls.filter((p) => p.claimed)).toHaveLength(1);
    expect(polls.filter((p) => !p.claimed).every((p) => !p.claimed && p.reason === 'not-due')).toBe(true);
    // Not due again until the interval passed; then one more poll.
    expect(await repo.claimPoll(s, new Date(now.getTime() + 4000))).toMatchObject({
      claimed: false,
      reason: 'not-due',
    });
    const later = await repo.claimPoll(s, new Date(now.getTime() + 5000));
    expect(later).toMatchObject({ claimed: true, secret: { pollData: { id: 1 }, nextPollAt: now.getTime() + 10_000 } });
    // slow_down: a longer interval replaces the secret.
    expect(
      await repo.updateSecret(s, { pollData: { id: 1 }, intervalMs: 10_000, nextPollAt: now.getTime() + 20_000 }),
    ).toBe(true);
    expect(await repo.claimPoll(s, new Date(now.getTime() + 15_000))).toMatchObject({
      claimed: false,
      reason: 'not-due',
    });
    expect(await repo.claimPoll(s, new Date(now.getTime() + OAUTH_SESSION_TTL_MS + 1))).toMatchObject({
      claimed: false,
      reason: 'expired',
    });
  });

  it('purges sessions long past their expiry when new ones start', async () => {
    const old = state();
    await repo.create({
      state: old,
      provider: 'claude',
      secret: {},
      now: new Date(Date.now() - OAUTH_SESSION_RETENTION_MS - OAUTH_SESSION_TTL_MS - 1000),
    });
    expect(await repo.get(old)).not.toBeNull();
    await repo.create({ state: state(), provider: 'claude', secret: {} });
    expect(await repo.get(old)).toBeNull();
  });
});
