// Public API of @cpa/routing.
export {};
