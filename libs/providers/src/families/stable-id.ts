import { createHash } from 'node:crypto';

/**
 * A UUID (version 5 layout) derived from its parts. Identities the upstream should see as
 * stable (a Claude Code session, a Codex prompt cache key) are derived rather than cached, so
 * every executor replica presents the same one without sharing state.
 */
export function stableUuid(...parts: string[]): string {
  const bytes = createHash('sha1')
    .update(['cpa', ...parts].join('\0'))
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
