// Public API of @cpa/management.
export {};
