// Public API of @cpa/config.
export {};
