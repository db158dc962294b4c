import { describe, expect, it } from 'vitest';
import { refreshOutcomeLabel } from './refresh-metrics';

describe('refreshOutcomeLabel', () => {
  const at = new Date(0);

  it('names each outcome by its status, a skip by its reason and a permanent failure as needs_login', () => {
    expect(refreshOutcomeLabel({ status: 'refreshed', credentialId: 'c', version: 2, expiresAt: null })).toBe(
      'refreshed',
    );
    expect(refreshOutcomeLabel({ status: 'current', credentialId: 'c', version: 2 })).toBe('current');
    expect(refreshOutcomeLabel({ status: 'skipped', credentialId: 'c', reason: 'not-due' })).toBe('skipped_not_due');
    expect(refreshOutcomeLabel({ status: 'skipped', credentialId: 'c', reason: 'refreshed-elsewhere' })).toBe(
      'skipped_refreshed_elsewhere',
    );
    expect(
      refreshOutcomeLabel({
        status: 'failed',
        credentialId: 'c',
        error: 'invalid_grant',
        permanent: true,
        retryAt: at,
      }),
    ).toBe('needs_login');
    expect(
      refreshOutcomeLabel({ status: 'failed', credentialId: 'c', error: 'timeout', permanent: false, retryAt: at }),
    ).toBe('failed');
  });
});
