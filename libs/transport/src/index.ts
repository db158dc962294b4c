// Public API of @cpa/transport.
export * from './client';
export * from './connection';
export * from './context';
export * from './frame';
export * from './keys';
export * from './module';
export * from './options';
export * from './server';
export * from './transport-error';
export * from './wire';
