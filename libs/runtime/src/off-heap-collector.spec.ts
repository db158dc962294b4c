import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { noteOffHeapArrival, OffHeapGrowth, startOffHeapCollector } from './off-heap-collector';

const MB = 1024 * 1024;

describe('OffHeapGrowth', () => {
  it('is due once memory outside the heap grew by a step since the baseline, and not again while collecting', () => {
    const growth = new OffHeapGrowth(10 * MB, 16 * MB);
    expect(growth.due(20 * MB)).toBe(false);
    expect(growth.due(26 * MB - 1)).toBe(false);
    expect(growth.due(26 * MB)).toBe(true);
    expect(growth.due(60 * MB)).toBe(false);
    growth.collected(14 * MB);
    expect(growth.due(29 * MB)).toBe(false);
    expect(growth.due(30 * MB)).toBe(true);
  });

  it('is moving when the rate since the last look would cover half a step within the quiet interval', () => {
    const growth = new OffHeapGrowth(10 * MB, 8 * MB);
    // 1 MB in 50 ms: 4 MB in 200 ms, half a step.
    expect(growth.moving(11 * MB, 50, 200)).toBe(true);
    expect(growth.moving(11 * MB + MB / 2, 50, 200)).toBe(false);
    // 3 MB in 200 ms: under half a step.
    expect(growth.moving(14 * MB + MB / 2, 200, 200)).toBe(false);
    // Falling counts too: buffers freed by V8's own collections mean bodies are flowing.
    expect(growth.moving(8 * MB, 200, 200)).toBe(true);
    expect(growth.moving(8 * MB, 200, 200)).toBe(false);
  });

  it('measures from a new low when memory was freed without it (a collection of V8 its own)', () => {
    const growth = new OffHeapGrowth(30 * MB, 16 * MB);
    expect(growth.due(5 * MB)).toBe(false);
    expect(growth.due(21 * MB)).toBe(true);
  });
});

describe('startOffHeapCollector', () => {
  afterEach(() => vi.useRealTimers());

  it('does not start without a gc to call (no --expose-gc)', () => {
    expect(startOffHeapCollector({}, undefined)).toBeUndefined();
  });

  it('asks for one collection per step of growth and takes what survived as the new baseline', async () => {
    vi.useFakeTimers();
    let external = 8 * MB;
    const collections: number[] = [];
    const stop = startOffHeapCollector(
      { stepBytes: 16 * MB, intervalMs: 10, quietIntervalMs: 10 },
      async () => {
        collections.push(external);
        external = 10 * MB;
      },
      () => external,
    );
    external = 20 * MB;
    await vi.advanceTimersByTimeAsync(30);
    expect(collections).toEqual([]);
    external = 25 * MB;
    await vi.advanceTimersByTimeAsync(30);
    expect(collections).toEqual([25 * MB]);
    external = 25 * MB;
    await vi.advanceTimersByTimeAsync(30);
    expect(collections).toEqual([25 * MB]);
    external = 26 * MB;
    await vi.advanceTimersByTimeAsync(30);
    expect(collections).toEqual([25 * MB, 26 * MB]);
    stop!();
  });

  it('looks at the quiet pace while memory outside the heap stays put and at the busy pace while it moves', async () => {
    vi.useFakeTimers();
    let external = 8 * MB;
    let looks = 0;
    const stop = startOffHeapCollector(
      { stepBytes: 64 * MB, intervalMs: 50, quietIntervalMs: 200 },
      async () => undefined,
      () => {
        looks++;
        return external;
      },
    );
    looks = 0; // the baseline read at start
    await vi.advanceTimersByTimeAsync(1000);
    // The first look after 50 ms, then one every 200 ms: at rest five a second.
    expect(looks).toBe(5);
    looks = 0;
    for (let ms = 0; ms < 1000; ms += 50) {
      external += 12 * MB;
      await vi.advanceTimersByTimeAsync(50);
    }
    // Moving: within the first quiet wait the pace turns busy, then one look every 50 ms.
    expect(looks).toBeGreaterThanOrEqual(16);
    stop!();
    looks = 0;
    await vi.advanceTimersByTimeAsync(1000);
    expect(looks).toBe(0);
  });

  it('looks at once when half a step of bodies arrives while it waits at the quiet pace', async () => {
    vi.useFakeTimers();
    let external = 8 * MB;
    let looks = 0;
    const collections: number[] = [];
    const stop = startOffHeapCollector(
      { stepBytes: 8 * MB, intervalMs: 50, quietIntervalMs: 10_000 },
      async () => {
        collections.push(external);
      },
      () => {
        looks++;
        return external;
      },
    );
    await vi.advanceTimersByTimeAsync(50);
    // At rest: the next look is 10 s away.
    looks = 0;
    external += 3 * MB;
    noteOffHeapArrival(3 * MB);
    expect(looks).toBe(0);
    // Half a step heard of: it looks now, without waiting for the timer.
    external += 1 * MB;
    noteOffHeapArrival(1 * MB);
    expect(looks).toBe(1);
    expect(collections).toEqual([]);
    // Then at the busy pace: the step is seen 50 ms later, not 10 s.
    external += 4 * MB;
    await vi.advanceTimersByTimeAsync(50);
    expect(collections).toEqual([16 * MB]);
    // At the busy pace arrivals change nothing (the timer is near).
    looks = 0;
    noteOffHeapArrival(64 * MB);
    expect(looks).toBe(0);
    stop!();
    // A stopped collector hears nothing.
    external += 64 * MB;
    noteOffHeapArrival(64 * MB);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(looks).toBe(0);
  });

  it('frees dead Buffers in a real process that V8 would have left for later', () => {
    // The built module (the test command builds before it tests), in a child run as the services run.
    const built = resolve(__dirname, '../dist/off-heap-collector.js');
    // A child that keeps the last ten 1 MB Buffers (requests in flight) and some JavaScript
    // garbage: held Buffers are promoted, then die in the old generation, where V8 collects
    // them only after 64 MB. With the collector (an 8 MB step) they stay near 10 MB + a step.
    const script = (collector: boolean) => `
      const { startOffHeapCollector } = require(${JSON.stringify(built)});
      ${collector ? 'startOffHeapCollector({ intervalMs: 5, stepBytes: 8 * 1024 * 1024 });' : ''}
      const { getHeapStatistics } = require('node:v8');
      let peak = 0, round = 0, junk = [];
      const inFlight = [];
      const step = () => {
        inFlight.push(Buffer.allocUnsafeSlow(1024 * 1024).fill(1));
        if (inFlight.length > 10) inFlight.shift();
        for (let i = 0; i < 2000; i++) junk.push({ i, s: 'x' + i });
        if (junk.length > 20000) junk = [];
        peak = Math.max(peak, getHeapStatistics().external_memory);
        if (++round < 300) setTimeout(step, 1);
        else console.log(peak);
      };
      step();`;
    const peakMb = (collector: boolean) => {
      const result = spawnSync(process.execPath, ['--expose-gc', '-e', script(collector)], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status, result.stderr).toBe(0);
      return Number(result.stdout.trim()) / MB;
    };
    const without = peakMb(false);
    const withCollector = peakMb(true);
    expect(without).toBeGreaterThan(40);
    expect(withCollector).toBeLessThan(32);
  });
});
