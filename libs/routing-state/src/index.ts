export * from './dispatch.service';
export * from './routing-state.store';
