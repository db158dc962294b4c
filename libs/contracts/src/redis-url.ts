/**
 * How a deployment names its Redis. `redis://host:port` (or `rediss://`) is one server;
 * `redis+cluster://host:port` (or `rediss+cluster://`) is a Redis Cluster reached through
 * any of its nodes (the client discovers the others). See libs/transport/README.md.
 */
export function isRedisClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//i.test(url);
}

/** Key prefix of one server (kept as it always was). */
export const DEFAULT_KEY_PREFIX = 'cpa:';
/** Key prefix on a cluster: the hash tag puts every transport key in one slot (see docs/decisions.md). */
export const DEFAULT_CLUSTER_KEY_PREFIX = '{cpa}:';

/** True when the prefix starts with a non-empty `{tag}` (what Redis Cluster hashes instead of the whole key). */
export function hasHashTag(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
}

/**
 * The key prefix to use: the configured one, or the default for the kind of Redis. On a
 * cluster an untagged prefix would spread a script's keys over slots (CROSSSLOT), so it is refused.
 */
export function keyPrefixFor(redisUrl: string, configured?: string): string {
  const cluster = isRedisClusterUrl(redisUrl);
  const prefix = configured ?? (cluster ? DEFAULT_CLUSTER_KEY_PREFIX : DEFAULT_KEY_PREFIX);
  if (cluster && !hasHashTag(prefix)) {
    throw new Error(
      `TRANSPORT_KEY_PREFIX "${prefix}" has no hash tag: on a Redis Cluster it must start with one, e.g. "{cpa}:"`,
    );
  }
  return prefix;
}
