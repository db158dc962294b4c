/**
 * `@cpa/runtime/metrics`: every Prometheus series the services expose, in one place, on
 * prom-client's process-wide registry (one service per process). Only prom-client is
 * imported here, so the libraries that record (client-api, routing-state, providers) can
 * depend on it without loading the HTTP bootstrap.
 *
 * Labels are bounded by construction: routes, formats, families, statuses, reasons and
 * outcomes are closed sets; `model` is a model the catalog serves (config-bounded) or
 * `other` (see modelLabel), never raw client input. No credential ids, client keys or
 * key ids are labels: they grow with the deployment and some are secrets.
 */
import { Counter, Gauge, Histogram, register, type Registry } from 'prom-client';

export const metricsRegistry: Registry = register;

/** Label of a model no credential serves (typos, probes): client input never becomes a series. */
export const OTHER_MODEL = 'other';

/** `model` when the catalog serves it, else OTHER_MODEL. */
export function modelLabel(model: string | undefined, served: (model: string) => boolean): string {
  return model !== undefined && model !== '' && served(model) ? model : OTHER_MODEL;
}

/** An HTTP status as a label; anything outside 100-599 (e.g. no answer at all) is `0`. */
export function statusLabel(status: number | undefined): string {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : '0';
}

/** Seconds since `startedMs` (a `performance.now()` reading). */
export function secondsSince(startedMs: number): number {
  return Math.max(0, performance.now() - startedMs) / 1000;
}

/** Whole requests and upstream calls: from milliseconds to several minutes (long streams). */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** In-process decisions and queue hand-offs: sub-millisecond to a second. */
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

// Get-or-create: a module evaluated twice in one process (test isolation) reuses the series.
function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames });
}

function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  return (
    (register.getSingleMetric(name) as Histogram<L> | undefined) ?? new Histogram({ name, help, labelNames, buckets })
  );
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return (register.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames });
}

export const metrics = {
  // gateway: route = the client API path template, family = the provider family serving the
  // model (`multiple` when several do, `none` when none), status = the status sent.
  gatewayRequests: counter('cpa_gateway_requests_total', 'Client API requests answered by the gateway.', [
    'route',
    'family',
    'model',
    'status',
  ]),
  gatewayRequestDuration: histogram(
    'cpa_gateway_request_duration_seconds',
    'Client API requests, from the gateway taking the request to the last byte of its answer.',
    ['route', 'family', 'model'],
    REQUEST_BUCKETS,
  ),
  gatewayShed: counter(
    'cpa_gateway_shed_total',
    'Client API requests answered 503 at once because the gateway process held its cap of requests or body bytes in flight (reason: requests, bytes).',
    ['reason'],
  ),

  // executors: every upstream HTTP exchange (a refresh-on-401 repeat or a fallback base URL is another one).
  upstreamRequests: counter(
    'cpa_upstream_requests_total',
    'HTTP exchanges with upstreams, by upstream status (0 = no answer: network error).',
    ['family', 'model', 'status'],
  ),
  upstreamTimeToFirstByte: histogram(
    'cpa_upstream_time_to_first_byte_seconds',
    "Time from sending an upstream request to the upstream's response headers.",
    ['family', 'model'],
    REQUEST_BUCKETS,
  ),
  upstreamAttemptDuration: histogram(
    'cpa_upstream_attempt_duration_seconds',
    'One attempt on one credential, from the executor taking it to its end (a stream: its last event).',
    ['family', 'model'],
    REQUEST_BUCKETS,
  ),

  // schedulers: the decisions after a failed attempt, and the picks themselves.
  failovers: counter(
    'cpa_scheduler_failovers_total',
    'Failed attempts followed by an attempt on another credential (family of the failed one).',
    ['family'],
  ),
  retries: counter(
    'cpa_scheduler_retries_total',
    'Further attempts that are not a failover: alias_pool = next pool model on the same credential, next_round = parked until a cooldown ends.',
    ['family', 'kind'],
  ),
  cooldowns: counter(
    'cpa_scheduler_cooldowns_total',
    'Cooldowns started on a credential (or one of its models), by failure kind.',
    ['family', 'reason'],
  ),
  pickDuration: histogram(
    'cpa_scheduler_pick_duration_seconds',
    'Credential picks (strategy, affinity and shared state in Redis).',
    ['outcome'],
    FAST_BUCKETS,
  ),

  // transport (every process that consumes a queue).
  queueWait: histogram(
    'cpa_transport_queue_wait_seconds',
    'Time a queued message waited before a handler took it.',
    ['pattern'],
    FAST_BUCKETS,
  ),
  queueDepth: gauge(
    'cpa_transport_queue_depth',
    'Messages in a work queue (waiting or being handled), as its consumers see it at scrape time.',
    ['queue'],
  ),

  // refresh-worker.
  refreshes: counter('cpa_refresh_total', 'OAuth token refreshes by trigger (scheduled, on_demand) and outcome.', [
    'trigger',
    'outcome',
  ]),
};

/** Every cpa_ series name, for checks that dashboards and scrape output refer to real series. */
export const METRIC_NAMES: readonly string[] = Object.values(metrics).map(
  (m) => (m as unknown as { name: string }).name,
);
