/**
 * `@cpa/db/light`: the parts of @cpa/db that never load the Prisma client. The hot-path
 * services (gateway, scheduler, executors) import only this: they decrypt the catalog
 * snapshot's secrets and hash client keys without a database connection.
 */
export * from './crypto/client-key';
export * from './crypto/secret-box';
export { utcDay } from './usage-day';
export type { UsageIncrement } from './usage-day';
export * from './usage-request';
