import { describe, expect, it } from 'vitest';
import {
  activeCooldowns,
  cooldownReason,
  credentialState,
  credentialView,
  usageByCredential,
  type CredentialFacts,
} from './credential-view';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const MIN = 60_000;

const facts = (overrides: Partial<CredentialFacts> = {}): CredentialFacts => ({
  id: 'cred-1',
  provider: 'claude',
  kind: 'api_key',
  label: 'team key',
  account: '',
  source: 'config',
  disabled: false,
  status: 'active',
  statusMessage: '',
  lastError: '',
  modelStates: {},
  nextRefreshAt: null,
  priority: 0,
  weight: 1,
  prefix: '',
  baseUrl: '',
  proxyUrl: '',
  attributes: {},
  ...overrides,
});

const cooling = (until: number, extra: Record<string, unknown> = {}) => ({
  status: 'error',
  unavailable: true,
  nextRetryAfter: until,
  quota: { exceeded: false, nextRecoverAt: 0 },
  ...extra,
});

describe('activeCooldowns', () => {
  it('lists only models whose cooldown ends after now, soonest first, as RFC 3339', () => {
    const states = {
      'model-late': cooling(NOW + 30 * MIN, { lastError: { status: 401, message: 'bad key' } }),
      'model-over': cooling(NOW - MIN),
      'model-soon': cooling(0, { quota: { exceeded: true, nextRecoverAt: NOW + MIN } }),
      'model-ok': { status: 'active', nextRetryAfter: 0, quota: { exceeded: false, nextRecoverAt: 0 } },
    };
    expect(activeCooldowns(states, NOW)).toEqual([
      { model: 'model-soon', until: new Date(NOW + MIN).toISOString(), reason: 'quota exceeded (429)' },
      { model: 'model-late', until: new Date(NOW + 30 * MIN).toISOString(), reason: 'unauthorized (401)' },
    ]);
  });

  it('reads ISO strings and ignores malformed states', () => {
    const until = new Date(NOW + 5 * MIN).toISOString();
    expect(
      activeCooldowns({ a: { cooldownUntil: until }, b: null, c: 'x', d: { nextRetryAfter: 'not a date' } }, NOW),
    ).toEqual([{ model: 'a', until, reason: 'cooling down' }]);
    expect(activeCooldowns(null, NOW)).toEqual([]);
    expect(activeCooldowns([], NOW)).toEqual([]);
  });
});

describe('cooldownReason', () => {
  it.each([
    [{ quota: { exceeded: true } }, 'quota exceeded (429)'],
    [{ lastError: { status: 429 } }, 'quota exceeded (429)'],
    [{ lastError: { status: 401 } }, 'unauthorized (401)'],
    [{ lastError: { status: 403 } }, 'payment required or forbidden (403)'],
    [{ lastError: { status: 404 } }, 'model not found (404)'],
    [{ lastError: { status: 503 } }, 'upstream error (503)'],
    [{ statusMessage: 'model unavailable' }, 'model unavailable'],
    [{ lastError: { message: 'connection reset' } }, 'connection reset'],
    [{}, 'cooling down'],
  ])('%j -> %s', (state, reason) => {
    expect(cooldownReason(state)).toBe(reason);
  });
});

describe('credentialState', () => {
  const cd = [{ model: 'm', until: new Date(NOW + MIN).toISOString(), reason: 'x' }];
  it('puts disabled first, then needs_login, then cooling, else active', () => {
    expect(credentialState({ disabled: true, status: 'needs_login' }, cd)).toBe('disabled');
    expect(credentialState({ disabled: false, status: 'needs_login' }, cd)).toBe('needs_login');
    expect(credentialState({ disabled: false, status: 'active' }, cd)).toBe('cooling');
    expect(credentialState({ disabled: false, status: 'error' }, [])).toBe('active');
    expect(credentialState({ disabled: false, status: 'active' }, [])).toBe('active');
  });
});

describe('credentialView', () => {
  it('shows an OAuth token-file credential that needs a login, with its refusal and usage', () => {
    const view = credentialView(
      facts({
        kind: 'oauth',
        label: '',
        account: 'me@example.com',
        source: 'auth-file',
        status: 'needs_login',
        statusMessage: 'refresh token revoked',
        nextRefreshAt: new Date(NOW + 10 * MIN),
        proxyUrl: 'http://user:secret@proxy.local:3128',
        attributes: { fileName: 'claude-me.json' },
      }),
      { requests: 3, tokens: 120 },
      NOW,
    );
    expect(view).toMatchObject({
      label: 'me@example.com',
      kind: 'oauth',
      status: 'needs_login',
      last_error: 'refresh token revoked',
      next_refresh_at: new Date(NOW + 10 * MIN).toISOString(),
      token_file: 'claude-me.json',
      requests_today: 3,
      tokens_today: 120,
    });
    expect(view.proxy_url).toBe('http://proxy.local:3128');
    expect(JSON.stringify(view)).not.toContain('secret');
  });

  it('shows an API key without usage as active with zero counts', () => {
    const view = credentialView(
      facts({ lastError: 'old failure', baseUrl: 'https://api.example.com/v1' }),
      undefined,
      NOW,
    );
    expect(view).toMatchObject({
      base_url: 'https://api.example.com/v1',
      kind: 'api-key',
      status: 'active',
      cooldowns: [],
      last_error: 'old failure',
      token_file: null,
      requests_today: 0,
      tokens_today: 0,
      proxy_url: '',
    });
  });
});

describe('usageByCredential', () => {
  it('sums requests and input + output tokens per credential', () => {
    const totals = usageByCredential([
      { credentialId: 'a', requests: 2, inputTokens: 10, outputTokens: 5 },
      { credentialId: 'b', requests: 1, inputTokens: 1, outputTokens: 1 },
      { credentialId: 'a', requests: 1, inputTokens: 3, outputTokens: 2 },
    ]);
    expect(Object.fromEntries(totals)).toEqual({ a: { requests: 3, tokens: 20 }, b: { requests: 1, tokens: 2 } });
  });
});
