/**
 * Global setup of the suites that start the built services (e2e, faults): they refuse to run
 * against a dist/ older than the sources. `npm test` builds first; E2E_BUILD=1 has each stack
 * build itself, so nothing is checked then.
 */
import { resolve } from 'node:path';
import { buildUnits, staleBuildMessage, staleUnits } from './fresh-build';

export default function setup(): void {
  if (process.env.E2E_BUILD) return;
  const stale = staleUnits(buildUnits(resolve(__dirname, '../..')));
  if (stale.length > 0) throw new Error(staleBuildMessage(stale));
}
