import { describe, expect, it } from 'vitest';
import { hashManagementSecret, verifyManagementSecret } from './secret-hash';

describe('management secret hash', () => {
  it('verifies the secret and nothing else', async () => {
    const stored = await hashManagementSecret('correct horse');
    expect(stored).not.toContain('correct horse');
    expect(stored.startsWith('scrypt$')).toBe(true);
    expect(await verifyManagementSecret('correct horse', stored)).toBe(true);
    expect(await verifyManagementSecret('correct horse!', stored)).toBe(false);
    expect(await verifyManagementSecret('', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashManagementSecret('x')).not.toBe(await hashManagementSecret('x'));
  });

  it('rejects malformed stored values', async () => {
    expect(await verifyManagementSecret('x', 'sha256$abc')).toBe(false);
    expect(await verifyManagementSecret('x', '')).toBe(false);
  });
});
