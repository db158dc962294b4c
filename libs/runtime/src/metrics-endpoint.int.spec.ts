import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The built module: a fresh process, so nothing of the test runner wakes it. */
const BUILT = resolve(__dirname, '../dist/metrics-endpoint.js');

/**
 * Voluntary context switches per second of an otherwise idle Node process that set up
 * process metrics with `setup` (each is a wake-up of a sleeping event loop).
 */
function idleWakeupsPerSecond(setup: string): number {
  const script = `
    const { readFileSync } = require('node:fs');
    ${setup}
    const keepAlive = setInterval(() => undefined, 60_000);
    const switches = () => Number(/voluntary_ctxt_switches:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    setTimeout(() => {
      const before = switches();
      setTimeout(() => {
        process.stdout.write(String((switches() - before) / 2));
        clearInterval(keepAlive);
      }, 2000);
    }, 200);
  `;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, BUILT } }));
}

describe('process metrics at rest', () => {
  it('wake an idle service about ten times a second, not a hundred', () => {
    // prom-client's default (10 ms): the measurement can tell the two apart.
    const defaultPrecision = idleWakeupsPerSecond(
      `const p = require('prom-client'); p.collectDefaultMetrics({ register: new p.Registry() });`,
    );
    const ours = idleWakeupsPerSecond(`require(process.env.BUILT).collectProcessMetrics();`);
    expect(defaultPrecision).toBeGreaterThan(60);
    expect(ours).toBeLessThan(25);
  });
});
