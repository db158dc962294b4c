// Public API of @cpa/routing-state: Redis-backed routing state and the scheduler's dispatch logic.
export * from './client-key-usage';
export type { PickResult } from './credential-picker';
export * from './dispatch.service';
export * from './keys';
export * from './route-scope';
export * from './routing-state.store';
export * from './scheduled-attempt';
export * from './usage-buffer';
export * from './usage-recorder';
