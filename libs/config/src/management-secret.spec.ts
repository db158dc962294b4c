import { describe, expect, it } from 'vitest';
import { isUsableManagementSecret } from './store';

describe('isUsableManagementSecret', () => {
  it('accepts a plain secret', () => expect(isUsableManagementSecret('s3cret')).toBe(true));
  it.each([undefined, '', `$2a$10$${'x'.repeat(53)}`])('rejects %s (unset, empty or a bcrypt hash)', (secret) =>
    expect(isUsableManagementSecret(secret)).toBe(false),
  );
});
