// Public API of @cpa/testing.
export * from './mock-upstream';
export * from './hostile';
export { freePort, waitFor, waitForHttp } from './helpers';
export * from './proxies';
export * from './outages';
export * from './token-files/samples';
export * from './mock-oauth/authorization-server';
export * from './mock-oauth/token-server';
export { LocalRedisCluster, redisClusterToolsAvailable } from './redis-cluster';
