import { Logger } from '@nestjs/common';

let installed = false;

/**
 * One stray rejected promise or a throw in a timer callback must not take a service (and
 * every request in flight on it) down: both are logged with their stack and the process
 * keeps serving. Shutdown stays the job of the signal handlers and the supervisor.
 */
export function installProcessGuards(name: string): void {
  if (installed) return;
  installed = true;
  const logger = new Logger(name);
  const describe = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.on('unhandledRejection', (reason) => logger.error(`unhandled rejection (kept serving): ${describe(reason)}`));
  process.on('uncaughtException', (err, origin) =>
    logger.error(`uncaught exception from ${origin} (kept serving): ${describe(err)}`),
  );
}
