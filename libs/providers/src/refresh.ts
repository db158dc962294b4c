/**
 * `@cpa/providers/refresh`: the OAuth refresh service, which reads and writes credentials
 * in Postgres. Kept out of the package's main entry so that executors, which only call
 * upstreams, never load the Prisma client.
 */
export * from './oauth/credential-refresh.service';
export * from './oauth/refresh-metrics';
