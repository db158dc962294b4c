/**
 * The routing strategy: its canonical names and every spelling accepted for them. The one
 * definition; config import, the management API and the catalog all read strategies here.
 */

export const ROUTING_STRATEGIES = ['round-robin', 'weighted-round-robin', 'fill-first'] as const;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

/** CLIProxyAPI's default (it also routes round-robin when nothing is configured). */
export const DEFAULT_ROUTING_STRATEGY: RoutingStrategy = 'round-robin';

/**
 * Accepted spellings (compared trimmed and lower-cased) -> canonical strategy. CLIProxyAPI
 * spells fill-first as `fill-first`, `fillfirst` or `ff`; round-robin and weighted
 * round-robin get the same three forms.
 */
export const ROUTING_STRATEGY_ALIASES: Readonly<Record<string, RoutingStrategy>> = {
  'round-robin': 'round-robin',
  roundrobin: 'round-robin',
  rr: 'round-robin',
  'weighted-round-robin': 'weighted-round-robin',
  weightedroundrobin: 'weighted-round-robin',
  wrr: 'weighted-round-robin',
  'fill-first': 'fill-first',
  fillfirst: 'fill-first',
  ff: 'fill-first',
};

/** The canonical strategy a spelling names, or undefined for an unknown one (never a silent default). */
export function parseRoutingStrategy(value: unknown): RoutingStrategy | undefined {
  if (typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  return Object.hasOwn(ROUTING_STRATEGY_ALIASES, key) ? ROUTING_STRATEGY_ALIASES[key] : undefined;
}
