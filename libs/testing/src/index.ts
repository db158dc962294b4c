// Public API of @cpa/testing.
export * from './mock-upstream';
export * from './hostile';
export { freePort, waitFor, waitForHttp } from './helpers';
export * from './proxies';
export * from './token-files/samples';
