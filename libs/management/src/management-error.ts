/** A management request that fails with a status and CLIProxyAPI's `{"error": message}` body. */
export class ManagementError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ManagementError';
  }
}

export const badRequest = (message: string) => new ManagementError(400, message);
export const notFound = (message = 'item not found') => new ManagementError(404, message);
