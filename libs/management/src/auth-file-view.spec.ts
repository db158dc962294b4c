import { describe, expect, it } from 'vitest';
import { authFileName, authFileView, nextRetryAfter, type AuthFileFacts } from './auth-file-view';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const MIN = 60_000;

const row = (overrides: Partial<AuthFileFacts> = {}): AuthFileFacts => ({
  id: 'cred-1',
  provider: 'claude',
  label: 'team key',
  account: 'dev@example.com',
  status: 'active',
  statusMessage: '',
  disabled: false,
  source: 'auth-file',
  priority: 2,
  weight: 3,
  prefix: 'team',
  baseUrl: '',
  proxyUrl: '',
  attributes: {},
  modelStates: {},
  lastRefreshAt: null,
  expiresAt: null,
  updatedAt: new Date(NOW - MIN),
  ...overrides,
});

describe('authFileName', () => {
  it('prefers the token file name, then label, account and id', () => {
    expect(authFileName({ id: 'i', label: 'l', account: 'a', attributes: { fileName: 'claude-a.json' } })).toBe(
      'claude-a.json',
    );
    expect(authFileName({ id: 'i', label: 'l', account: 'a', attributes: {} })).toBe('l');
    expect(authFileName({ id: 'i', label: '', account: 'a' })).toBe('a');
    expect(authFileName({ id: 'i', label: '', account: '', attributes: { fileName: 7 } })).toBe('i');
  });
});

describe('nextRetryAfter', () => {
  it('is the latest future cooldown end over every model, epoch ms or RFC 3339', () => {
    const states = {
      a: { nextRetryAfter: NOW + 5 * MIN },
      b: { cooldownUntil: new Date(NOW + 9 * MIN).toISOString() },
      c: { nextRetryAfter: NOW - MIN },
    };
    expect(nextRetryAfter(states, NOW)).toBe(NOW + 9 * MIN);
  });

  it('is undefined when nothing is cooling or the mirror is not an object', () => {
    expect(nextRetryAfter({ a: { nextRetryAfter: NOW - 1 }, b: null }, NOW)).toBeUndefined();
    expect(nextRetryAfter(null, NOW)).toBeUndefined();
    expect(nextRetryAfter('x', NOW)).toBeUndefined();
  });
});

describe('authFileView', () => {
  it('lists an active credential with its usage and without optional fields', () => {
    expect(authFileView(row(), { requests: 10, failures: 3 }, NOW)).toEqual({
      id: 'cred-1',
      auth_index: 'cred-1',
      name: 'team key',
      type: 'claude',
      provider: 'claude',
      label: 'team key',
      email: 'dev@example.com',
      account: 'dev@example.com',
      status: 'active',
      status_message: '',
      disabled: false,
      unavailable: false,
      runtime_only: false,
      source: 'auth-file',
      priority: 2,
      weight: 3,
      prefix: 'team',
      base_url: '',
      proxy_url: '',
      success: 7,
      failed: 3,
      updated_at: new Date(NOW - MIN).toISOString(),
    });
  });

  it('shows a cooling credential as unavailable until its cooldown ends, with its note and token times', () => {
    const view = authFileView(
      row({
        attributes: { fileName: 'claude-dev.json', note: 'shared' },
        modelStates: { m: { nextRetryAfter: NOW + MIN } },
        lastRefreshAt: new Date(NOW - 2 * MIN),
        expiresAt: new Date(NOW + 60 * MIN),
      }),
      undefined,
      NOW,
    );
    expect(view).toMatchObject({
      name: 'claude-dev.json',
      note: 'shared',
      unavailable: true,
      next_retry_after: new Date(NOW + MIN).toISOString(),
      last_refresh: new Date(NOW - 2 * MIN).toISOString(),
      expires_at: new Date(NOW + 60 * MIN).toISOString(),
      success: 0,
      failed: 0,
    });
  });

  it('says disabled over the stored status, and unavailable for any status but active', () => {
    expect(authFileView(row({ disabled: true, status: 'error' }), undefined, NOW)).toMatchObject({
      status: 'disabled',
      unavailable: true,
    });
    expect(authFileView(row({ status: 'needs_login' }), undefined, NOW)).toMatchObject({
      status: 'needs_login',
      unavailable: true,
    });
  });
});
