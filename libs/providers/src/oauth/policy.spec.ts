import { describe, expect, it } from 'vitest';
import { credentialExpiry, oauthFamilyOf, REFRESH_LEAD_MS, shouldRefresh, type RefreshCandidate } from './policy';

const NOW = new Date('2025-06-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);

function candidate(overrides: Partial<RefreshCandidate> = {}): RefreshCandidate {
  return {
    provider: 'claude',
    kind: 'oauth',
    disabled: false,
    expiresAt: at(8 * HOUR),
    lastRefreshAt: null,
    nextRefreshAt: null,
    ...overrides,
  };
}

describe('refresh leads', () => {
  it('are 4 h for Claude, 5 days for Codex, 15 min for Google logins, 10 min for Vertex, 5 min for Kimi and 24 h for iFlow', () => {
    expect(REFRESH_LEAD_MS).toEqual({
      claude: 4 * HOUR,
      codex: 5 * DAY,
      'gemini-cli': 15 * MIN,
      antigravity: 15 * MIN,
      vertex: 10 * MIN,
      kimi: 5 * MIN,
      iflow: DAY,
    });
  });

  it.each([
    ['claude', 4 * HOUR],
    ['codex', 5 * DAY],
    ['gemini-cli', 15 * MIN],
    ['antigravity', 15 * MIN],
    ['vertex', 10 * MIN],
    ['kimi', 5 * MIN],
    ['iflow', DAY],
  ])('%s refreshes exactly when the remaining lifetime reaches its lead', (provider, lead) => {
    expect(shouldRefresh(candidate({ provider, expiresAt: at(lead + 1) }), NOW)).toBe(false);
    expect(shouldRefresh(candidate({ provider, expiresAt: at(lead) }), NOW)).toBe(true);
    expect(shouldRefresh(candidate({ provider, expiresAt: at(lead - MIN) }), NOW)).toBe(true);
  });

  it('refreshes an already expired token', () => {
    expect(shouldRefresh(candidate({ expiresAt: at(-HOUR) }), NOW)).toBe(true);
  });

  it('a Codex token with 6 days left is not due, one with 4 days is', () => {
    expect(shouldRefresh(candidate({ provider: 'codex', expiresAt: at(6 * DAY) }), NOW)).toBe(false);
    expect(shouldRefresh(candidate({ provider: 'codex', expiresAt: at(4 * DAY) }), NOW)).toBe(true);
  });
});

describe('what is never refreshed', () => {
  it('API-key credentials', () => {
    expect(shouldRefresh(candidate({ kind: 'api_key', expiresAt: at(-HOUR) }), NOW)).toBe(false);
  });

  it('disabled credentials', () => {
    expect(shouldRefresh(candidate({ disabled: true, expiresAt: at(-HOUR) }), NOW)).toBe(false);
  });

  it('credentials waiting for a new login (a refused refresh token), however expired', () => {
    expect(shouldRefresh(candidate({ status: 'needs_login', expiresAt: at(-HOUR) }), NOW)).toBe(false);
    expect(shouldRefresh(candidate({ status: 'error', expiresAt: at(-HOUR) }), NOW)).toBe(true);
  });

  it('iFlow cookie logins (an API key, no refresh token), once the secret shows it', () => {
    const expired = candidate({ provider: 'iflow', expiresAt: at(-HOUR) });
    expect(shouldRefresh({ ...expired, secret: { apiKey: 'sk-iflow', cookie: 'BXAuth=x;' } }, NOW)).toBe(false);
    expect(shouldRefresh({ ...expired, secret: { apiKey: 'sk-iflow', refreshToken: 'r' } }, NOW)).toBe(true);
  });

  it('families without a token refresher', () => {
    expect(shouldRefresh(candidate({ provider: 'openai-compat', expiresAt: at(-HOUR) }), NOW)).toBe(false);
    expect(oauthFamilyOf('openai-compat')).toBeUndefined();
    // API-key Gemini has no OAuth; Google logins are gemini-cli or antigravity.
    expect(oauthFamilyOf('gemini')).toBeUndefined();
  });
});

describe('backoff (nextRefreshAt)', () => {
  it('holds a due credential back until nextRefreshAt', () => {
    const due = candidate({ expiresAt: at(-HOUR), nextRefreshAt: at(MIN) });
    expect(shouldRefresh(due, NOW)).toBe(false);
    expect(shouldRefresh(due, at(MIN - 1))).toBe(false);
    expect(shouldRefresh(due, at(MIN))).toBe(true);
  });

  it('a past nextRefreshAt does not block', () => {
    expect(shouldRefresh(candidate({ expiresAt: at(HOUR), nextRefreshAt: at(-MIN) }), NOW)).toBe(true);
  });

  it('does not by itself make a fresh credential due', () => {
    expect(shouldRefresh(candidate({ expiresAt: at(8 * HOUR), nextRefreshAt: at(-MIN) }), NOW)).toBe(false);
  });
});

describe('missing expiry', () => {
  it('refreshes a credential that has neither expiry nor a last refresh', () => {
    expect(shouldRefresh(candidate({ expiresAt: null }), NOW)).toBe(true);
  });

  it('falls back to the last refresh plus the lead', () => {
    expect(shouldRefresh(candidate({ expiresAt: null, lastRefreshAt: at(-3 * HOUR) }), NOW)).toBe(false);
    expect(shouldRefresh(candidate({ expiresAt: null, lastRefreshAt: at(-4 * HOUR) }), NOW)).toBe(true);
  });

  it('reads the expiry from the secret when the column is empty', () => {
    const fresh = { accessToken: 'a', refreshToken: 'r', expiresAt: at(8 * HOUR).toISOString() };
    expect(shouldRefresh(candidate({ expiresAt: null, secret: fresh }), NOW)).toBe(false);
    const stale = { ...fresh, expiresAt: at(HOUR).toISOString() };
    expect(shouldRefresh(candidate({ expiresAt: null, secret: stale }), NOW)).toBe(true);
  });

  it("accepts the token files' expiry names and epoch numbers in the secret", () => {
    expect(credentialExpiry({ expiresAt: null, secret: { expired: '2025-06-01T20:00:00Z' } })).toEqual(
      new Date('2025-06-01T20:00:00Z'),
    );
    expect(credentialExpiry({ expiresAt: null, secret: { expiry: '2025-06-01T13:00:00+00:00' } })).toEqual(
      new Date('2025-06-01T13:00:00Z'),
    );
    expect(credentialExpiry({ expiresAt: null, secret: { expiresAt: NOW.getTime() / 1000 } })).toEqual(NOW);
    expect(credentialExpiry({ expiresAt: null, secret: { expiresAt: NOW.getTime() } })).toEqual(NOW);
    expect(credentialExpiry({ expiresAt: null, secret: { expiresAt: 'soon' } })).toBeUndefined();
  });

  it('prefers the column over the secret', () => {
    const column = at(HOUR);
    expect(credentialExpiry({ expiresAt: column, secret: { expiresAt: at(9 * HOUR).toISOString() } })).toBe(column);
    expect(
      shouldRefresh(candidate({ expiresAt: column, secret: { expiresAt: at(9 * HOUR).toISOString() } }), NOW),
    ).toBe(true);
  });

  it('reads the last refresh from the secret when the column is empty', () => {
    const secret = { lastRefreshAt: at(-HOUR).toISOString() };
    expect(shouldRefresh(candidate({ expiresAt: null, secret }), NOW)).toBe(false);
  });
});

describe('refreshIntervalSeconds attribute', () => {
  it('overrides the family lead against the expiry', () => {
    const attributes = { refreshIntervalSeconds: 600 };
    expect(shouldRefresh(candidate({ expiresAt: at(11 * MIN), lastRefreshAt: at(-MIN), attributes }), NOW)).toBe(false);
    expect(shouldRefresh(candidate({ expiresAt: at(10 * MIN), lastRefreshAt: at(-MIN), attributes }), NOW)).toBe(true);
  });

  it('refreshes on the interval since the last refresh even when the token is fresh', () => {
    const attributes = { refresh_interval_seconds: '3600' };
    expect(shouldRefresh(candidate({ expiresAt: at(8 * HOUR), lastRefreshAt: at(-59 * MIN), attributes }), NOW)).toBe(
      false,
    );
    expect(shouldRefresh(candidate({ expiresAt: at(8 * HOUR), lastRefreshAt: at(-HOUR), attributes }), NOW)).toBe(true);
    expect(shouldRefresh(candidate({ expiresAt: at(8 * HOUR), lastRefreshAt: null, attributes }), NOW)).toBe(true);
  });

  it('ignores non-positive or unparsable intervals', () => {
    for (const value of [0, -5, 'often', '']) {
      const attributes = { refreshIntervalSeconds: value };
      expect(shouldRefresh(candidate({ expiresAt: at(8 * HOUR), lastRefreshAt: at(-HOUR), attributes }), NOW)).toBe(
        false,
      );
    }
  });
});
