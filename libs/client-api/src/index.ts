export * from './client-key.service';
export * from './gateway.service';
export * from './management-proxy';
export * from './model-list';
export * from './relay';
export * from './request-fields';
export * from './client-error.filter';
export * from './client-key.guard';
