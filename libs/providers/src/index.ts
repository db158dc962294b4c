export * from './execution.service';
export * from './families';
export * from './provider-adapter';
export * from './retry-hint';
export * from './secret-store';
export * from './stream-errors';
export * from './upstream-client';
export * from './oauth';
