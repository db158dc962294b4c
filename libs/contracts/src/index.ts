export * from './client-format';
export * from './envelope';
export * from './errors';
export * from './frames';
export * from './patterns';
export * from './provider-family';
export * from './management-events';
export * from './route-actions';
