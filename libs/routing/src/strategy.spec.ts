import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROUTING_STRATEGY,
  parseRoutingStrategy,
  ROUTING_STRATEGIES,
  ROUTING_STRATEGY_ALIASES,
  type RoutingStrategy,
} from './strategy';

describe('parseRoutingStrategy', () => {
  it.each<[string, RoutingStrategy]>([
    ['round-robin', 'round-robin'],
    ['roundrobin', 'round-robin'],
    ['rr', 'round-robin'],
    ['weighted-round-robin', 'weighted-round-robin'],
    ['weightedroundrobin', 'weighted-round-robin'],
    ['wrr', 'weighted-round-robin'],
    ['fill-first', 'fill-first'],
    ['fillfirst', 'fill-first'],
    ['ff', 'fill-first'],
  ])('reads %j as %s', (spelling, strategy) => {
    expect(parseRoutingStrategy(spelling)).toBe(strategy);
  });

  it('tests every alias of the table above', () => {
    expect(Object.keys(ROUTING_STRATEGY_ALIASES).sort()).toEqual(
      [
        'round-robin',
        'roundrobin',
        'rr',
        'weighted-round-robin',
        'weightedroundrobin',
        'wrr',
        'fill-first',
        'fillfirst',
        'ff',
      ].sort(),
    );
  });

  it('maps every canonical name to itself', () => {
    for (const strategy of ROUTING_STRATEGIES) expect(parseRoutingStrategy(strategy)).toBe(strategy);
    expect(ROUTING_STRATEGIES).toContain(DEFAULT_ROUTING_STRATEGY);
  });

  it('ignores case and surrounding blanks', () => {
    expect(parseRoutingStrategy(' RoundRobin ')).toBe('round-robin');
    expect(parseRoutingStrategy('FF')).toBe('fill-first');
    expect(parseRoutingStrategy('\tWRR\n')).toBe('weighted-round-robin');
  });

  it.each(['', 'random', 'weighted', 'round_robin', 'fill first', 'toString', '__proto__'])(
    'refuses %j',
    (spelling) => {
      expect(parseRoutingStrategy(spelling)).toBeUndefined();
    },
  );

  it.each([undefined, null, 1, true, {}])('refuses the non-string %j', (value) => {
    expect(parseRoutingStrategy(value)).toBeUndefined();
  });
});
