/** A write lost an optimistic-lock race: someone else changed the row since it was read. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';

  constructor(
    readonly entity: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`${entity} ${id} was modified concurrently (expected version ${expectedVersion}, found ${actualVersion}); reload and retry`);
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';

  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} does not exist`);
  }
}
