import { Injectable } from '@nestjs/common';
import { Catalog, type ServedModel } from '@cpa/catalog';
import {
  Patterns,
  type AttemptFailure,
  type AttemptResult,
  type ExecuteRequest,
  type ResponseHead,
  type RouteRequest,
} from '@cpa/contracts';
import { parseRequestedModel } from '@cpa/routing';
import { forward, frame, type Forward, type Frame } from '@cpa/transport';
import { RoutingStateStore } from './routing-state.store';

/** A reply the scheduler sends itself: one frame with head and JSON body. */
function finalReply(status: number, body: unknown, headers: Record<string, string> = {}): Frame {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const head: ResponseHead = { status, headers: { 'content-type': 'application/json', ...headers }, complete: true };
  return frame(head, bytes);
}

/**
 * The scheduler's decisions on the request path: pick a credential for a routed request,
 * and on a failed attempt either try another credential or answer with the final error.
 */
@Injectable()
export class DispatchService {
  constructor(
    private readonly catalog: Catalog,
    private readonly state: RoutingStateStore,
  ) {}

  async dispatch(route: RouteRequest): Promise<Forward | Frame> {
    return this.next(route, [], 0);
  }

  async attemptFailed(failure: AttemptFailure): Promise<Forward | Frame> {
    const { execute } = failure;
    await this.state.recordResult({
      credentialId: execute.credentialId,
      family: execute.family,
      baseModel: execute.baseModel,
      ok: false,
      status: failure.status,
      retryAfterMs: failure.retryAfterMs,
    });
    const retryable = failure.network || failure.status === 401 || failure.status === 403 || failure.status === 408 || failure.status === 429 || failure.status >= 500;
    if (retryable) {
      const next = await this.next(execute.route, execute.triedCredentialIds, execute.attempt + 1, true);
      if (next) return next;
    }
    const headers: Record<string, string> = { ...failure.headers };
    if (failure.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(failure.retryAfterMs / 1000));
    return finalReply(failure.status, failure.body, headers);
  }

  async attemptFinished(result: AttemptResult): Promise<void> {
    await this.state.recordResult(result);
  }

  private async next(route: RouteRequest, tried: string[], attempt: number): Promise<Forward | Frame>;
  private async next(route: RouteRequest, tried: string[], attempt: number, onlyIfAvailable: true): Promise<Forward | Frame | undefined>;
  private async next(route: RouteRequest, tried: string[], attempt: number, onlyIfAvailable = false): Promise<Forward | Frame | undefined> {
    const snapshot = this.catalog.snapshot;
    const requested = parseRequestedModel(route.model);
    const lookupName = requested.prefix ? `${requested.prefix}/${requested.baseModel}` : requested.baseModel;
    const served = snapshot.registry.lookup(lookupName);
    if (served.length === 0) {
      if (onlyIfAvailable) return undefined;
      return finalReply(404, { error: { message: `The model ${route.model} is not served by any configured credential`, type: 'invalid_request_error', code: 'model_not_found' } });
    }
    const candidates = served.filter((m) => !tried.includes(m.credentialId));
    const picked = await this.state.pick(requested.baseModel, candidates);
    if (!picked) {
      if (onlyIfAvailable) return undefined;
      const providers = [...new Set(served.map((m) => m.provider))].join(',');
      return finalReply(503, { error: { message: `no auth available (providers=${providers}, model=${route.model})`, type: 'server_error', code: 'auth_unavailable' } });
    }
    return forward(Patterns.execute(picked.provider), this.executeRequest(route, picked, requested.baseModel, requested.thinkingSuffix, tried, attempt));
  }

  private executeRequest(route: RouteRequest, picked: ServedModel, baseModel: string, suffix: string | undefined, tried: string[], attempt: number): ExecuteRequest {
    return {
      route,
      credentialId: picked.credentialId,
      family: picked.provider,
      upstreamModel: suffix ? `${picked.upstreamModel}(${suffix})` : picked.upstreamModel,
      baseModel,
      attempt,
      triedCredentialIds: [...tried, picked.credentialId],
    };
  }
}
