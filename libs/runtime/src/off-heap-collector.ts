import { getHeapStatistics } from 'node:v8';

/**
 * Request bodies are Buffers, held outside V8's heap. V8 schedules its collections by what
 * JavaScript allocates on the heap, and starts one for memory outside it only once that has
 * grown by 64 MB (a V8 constant) since the last major collection. A process that passes on
 * 1 MB bodies allocates little JavaScript per request, so dead bodies pile up between
 * collections: 30-40 MB at the peak of the benchmark's 1 MB phases, which took the gateway and
 * the executors over 150 MB RSS. When the memory outside the heap has grown by `stepBytes`
 * since the last collection, this asks V8 for a major collection, run concurrently
 * (`execution: 'async'`). Small bodies never grow it that far, so they pay nothing.
 *
 * Node offers no trigger but `gc` (`--expose-gc`, set for gateway and executor in
 * tools/node-flags.conf); without the flag the collector does not start.
 */
export interface OffHeapCollectorOptions {
  /** Growth of memory outside the heap that asks for a collection. */
  stepBytes?: number;
  /** How often the growth is looked at while memory outside the heap moves. */
  intervalMs?: number;
  /** How often it is looked at while that memory stays put (an idle or small-body process). */
  quietIntervalMs?: number;
}

export const OFF_HEAP_STEP_BYTES = 8 * 1024 * 1024;
const INTERVAL_MS = 50;
/**
 * Each look is a timer that wakes an idle process; at rest, or with small bodies, memory outside
 * the heap barely moves, so it is looked at five times a second instead of twenty. A burst of
 * large bodies is seen within this long (at most a step or two of growth before the first collection).
 */
const QUIET_INTERVAL_MS = 200;
/** The decision, I/O-free: a collection is due when none runs and memory outside the heap grew by a step. */
export class OffHeapGrowth {
  private baseline: number;
  private collecting = false;
  private lastLook: number;

  constructor(
    external: number,
    private readonly stepBytes = OFF_HEAP_STEP_BYTES,
  ) {
    this.baseline = external;
    this.lastLook = external;
  }

  /**
   * Whether memory outside the heap moves fast enough (either way, since the last look
   * `elapsedMs` ago) to cover half a step within `quietMs`: then the next look comes at the busy pace.
   */
  moving(external: number, elapsedMs: number, quietMs: number): boolean {
    const moved = Math.abs(external - this.lastLook);
    this.lastLook = external;
    return moved * quietMs >= (this.stepBytes / 2) * elapsedMs;
  }

  /** Looks at the current amount; true when a collection should start now (the caller starts it). */
  due(external: number): boolean {
    if (this.collecting) return false;
    // Freed without a collection of ours (V8's own): measure growth from the new low.
    if (external < this.baseline) this.baseline = external;
    if (external - this.baseline < this.stepBytes) return false;
    this.collecting = true;
    return true;
  }

  /** The collection ended; what survived it is the new baseline. */
  collected(external: number): void {
    this.collecting = false;
    this.baseline = external;
  }
}

type Collect = () => Promise<void>;

/** The running collector's ear for arriving bodies (one collector per process). */
let hearArrival: ((bytes: number) => void) | undefined;

/**
 * A body of `bytes` was just read into memory outside the heap (called by the code that
 * reads request bodies). While the collector waits at its quiet pace, half a step of such
 * bytes makes it look at once and go to the busy pace: at the start of a burst of 1 MB bodies
 * the quiet wait alone let 10-15 MB more pile up in gateway and executors (benchmark, 1 MB phase).
 */
export function noteOffHeapArrival(bytes: number): void {
  hearArrival?.(bytes);
}

/**
 * Starts watching (see the top of this file); returns a function that stops it. Undefined
 * when the process runs without `--expose-gc`. `collect` and `external` are for tests.
 */
export function startOffHeapCollector(
  options: OffHeapCollectorOptions = {},
  collect: Collect | undefined = exposedMajorGc(),
  external: () => number = () => getHeapStatistics().external_memory,
): (() => void) | undefined {
  if (!collect) return undefined;
  const stepBytes = options.stepBytes ?? OFF_HEAP_STEP_BYTES;
  const growth = new OffHeapGrowth(external(), stepBytes);
  const busyMs = options.intervalMs ?? INTERVAL_MS;
  const quietMs = Math.max(busyMs, options.quietIntervalMs ?? QUIET_INTERVAL_MS);
  let timer: NodeJS.Timeout;
  let waited = busyMs;
  /** Bytes heard of since the last look, counted only while waiting at the quiet pace. */
  let arrived = 0;
  const look = (heard = false) => {
    const now = external();
    if (growth.due(now)) {
      // Failed or not, the collection is over: what is left is the new baseline.
      const collected = () => growth.collected(external());
      collect().then(collected, collected);
    }
    const moving = growth.moving(now, waited, quietMs);
    waited = heard || moving ? busyMs : quietMs;
    arrived = 0;
    timer = setTimeout(look, waited).unref();
  };
  const arrival = (bytes: number) => {
    if (waited === busyMs) return;
    arrived += bytes;
    if (arrived * 2 < stepBytes) return;
    clearTimeout(timer);
    look(true);
  };
  hearArrival = arrival;
  timer = setTimeout(look, busyMs).unref();
  return () => {
    clearTimeout(timer);
    if (hearArrival === arrival) hearArrival = undefined;
  };
}

function exposedMajorGc(): Collect | undefined {
  const gc = globalThis.gc;
  return gc ? () => gc({ type: 'major', execution: 'async' }) : undefined;
}
