/**
 * `@cpa/routing-state/postgres`: what moves the scheduler's Redis-only records into
 * Postgres (credential states for the management API, buffered usage). Run by the admin;
 * kept out of the main entry so schedulers never load the Prisma client.
 */
import type { Provider } from '@nestjs/common';
import { ROUTING_STATE_OPTIONS, RoutingStateStore, type RoutingStateOptions } from './routing-state.store';
import { StateMirror } from './state-mirror';
import { UsageBuffer } from './usage-buffer';
import { UsageDrain } from './usage-drain';
import { UsageRetention } from './usage-retention';

export * from './state-mirror';
export * from './usage-drain';
export * from './usage-retention';

/** The admin's writers and their Redis connections (needs the global DbModule). */
export function postgresWriterProviders(options: RoutingStateOptions): Provider[] {
  return [
    { provide: ROUTING_STATE_OPTIONS, useValue: options },
    RoutingStateStore,
    UsageBuffer,
    StateMirror,
    UsageDrain,
    UsageRetention,
  ];
}
