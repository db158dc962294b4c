// Public API of @cpa/client-api.
export {};
