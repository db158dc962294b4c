// Public API of @cpa/transport.
export {};
