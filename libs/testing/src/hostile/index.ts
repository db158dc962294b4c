export * from './generate';
export * from './send';
