// Public API of @cpa/testing.
export * from './mock-upstream';
export { freePort, waitFor, waitForHttp } from './helpers';
