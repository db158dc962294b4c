export * from './catalog';
export * from './catalog-cache';
export * from './catalog.types';
export * from './credential-info';
export * from './family-models';
export * from './model-registry';
export * from './settings';
