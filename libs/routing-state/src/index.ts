// Public API of @cpa/routing-state.
export {};
