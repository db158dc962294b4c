import { isObservable, finalize, type Observable } from 'rxjs';
import type { CatalogSnapshot } from '@cpa/catalog';
import type { ExecuteRequest } from '@cpa/contracts';
import { metrics, modelLabel, secondsSince, statusLabel } from '@cpa/runtime/metrics';

export interface UpstreamLabels {
  family: string;
  /** The model the client asked for when the catalog serves it (the gateway's label too), else `other`. */
  model: string;
}

export function upstreamLabels(snapshot: CatalogSnapshot, req: ExecuteRequest): UpstreamLabels {
  return {
    family: req.family,
    model: modelLabel(req.route.model, (model) => snapshot.registry.lookup(model).length > 0),
  };
}

/** One upstream HTTP exchange: its status (undefined: no answer) and the time to its response headers. */
export function observeUpstreamResponse(labels: UpstreamLabels, status: number | undefined, startedMs: number): void {
  metrics.upstreamRequests.inc({ ...labels, status: statusLabel(status) });
  if (status !== undefined) metrics.upstreamTimeToFirstByte.observe(labels, secondsSince(startedMs));
}

/**
 * Times an attempt to its end: a Frame or a Forward (failure handed back) ends it now, a
 * stream when it completes, fails or its client goes away.
 */
export function observeAttempt<T>(
  result: T | Observable<T>,
  labels: UpstreamLabels,
  startedMs: number,
): T | Observable<T> {
  const done = () => metrics.upstreamAttemptDuration.observe(labels, secondsSince(startedMs));
  if (isObservable(result)) return (result as Observable<T>).pipe(finalize(done));
  done();
  return result;
}
