// Public API of @cpa/db.
export {};
