// Public API of @cpa/management.
export * from './auth.guard';
export * from './auth.service';
export * from './change-notifier';
export * from './client-address';
export * from './config-import.service';
export * from './config-yaml';
export * from './error.filter';
export * from './errors';
export * from './failure-limiter';
export * from './list-ops';
export * from './management.module';
export * from './management.service';
export * from './scalars';
export * from './sections';
export * from './usage-report';
