export * from './bootstrap';
export * from './health.controller';
export * from './process-guards';
export * from './logging';
export * from './off-heap-collector';
