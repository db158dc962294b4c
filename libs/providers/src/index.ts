// Public API of @cpa/providers.
export {};
