export * from './policy';
export * from './refreshers';
export * from './secret';
export * from './token-client';
export * from './service-account';
