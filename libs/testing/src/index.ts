// Public API of @cpa/testing.
export {};
