import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Client API keys are looked up by their SHA-256 hash. A plain (unsalted) hash is enough
 * here: the lookup must be deterministic, and keys are random tokens, not passwords.
 */
export function hashClientKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Compares two hex hashes without leaking the position of the first difference. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * A recognisable but non-reconstructible rendering of a key for operators:
 * long keys show their first 6 and last 4 characters, short keys at most a quarter of them.
 */
export function keyPreview(key: string): string {
  if (key.length >= 20) return `${key.slice(0, 6)}...${key.slice(-4)}`;
  return `${key.slice(0, Math.floor(key.length / 4))}...`;
}
