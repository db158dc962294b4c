// Public API of @cpa/routing: pure, I/O-free routing decisions (see README.md).
export * from './affinity';
export * from './candidates';
export * from './routing-errors';
export * from './go-duration';
export * from './mark-result';
export * from './model-name';
export * from './model-state';
export * from './retry-plan';
export * from './selectors';
export * from './session-id';
export * from './strategy';
