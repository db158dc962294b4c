// Public API of @cpa/formats.
export {};
