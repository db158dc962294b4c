// Public API of @cpa/config.
export * from './auth-files';
export * from './config-file';
export * from './duration';
export * from './env';
export * from './ids';
export * from './oauth-model-rules';
export * from './proxy-url';
export * from './reconcile';
export * from './secret-hash';
export * from './settings';
export * from './store';
