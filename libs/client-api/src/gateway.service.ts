import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  clientErrorBody,
  INVALID_API_KEY_BODY,
  MISSING_API_KEY_BODY,
  Patterns,
  REQUEST_ID_HEADER,
  requestIdFor,
  type ClientFormat,
  type RouteAction,
  type RouteRequest,
} from '@cpa/contracts';
import { Catalog } from '@cpa/catalog';
import { extractSessionIds, sessionIdList } from '@cpa/routing';
import { metrics, modelLabel, secondsSince, statusLabel } from '@cpa/runtime/metrics';
import { RedisTransportClient, ReplyFlow } from '@cpa/transport';
import { ClientKeyAdmission, keyRefusal } from './client-key-admission';
import { ClientKeyService, extractClientKey } from './client-key.service';
import { DEFAULT_IN_FLIGHT_LIMITS, InFlightLimit, type InFlightLimits, type InFlightTicket } from './in-flight';
import { BodyTooLargeError, readBody } from './read-body';
import { relayFrames, writeJson, type RelayLimits } from './relay';
import { BadRequestError, parseRequestBody, readRequestFields } from './request-fields';

export interface GatewayOptions {
  /** How long a request may take end to end before the gateway gives up (ms). */
  requestTimeoutMs: number;
  /** Larger request bodies are refused with 413. */
  bodyLimitBytes: number;
  /** What a client that stops reading may cost before its request is cut off (defaults in relay.ts). */
  relay?: RelayLimits;
  /** Requests and body bytes one gateway process holds before it sheds new ones (defaults in in-flight.ts). */
  inFlight?: InFlightLimits;
}
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');

/** Request headers that matter upstream or for routing; everything else stays at the edge. */
const FORWARDED_HEADERS = [
  'anthropic-version',
  'anthropic-beta',
  'user-agent',
  'x-claude-code-session-id',
  'x-session-id',
  'x-amp-thread-id',
  // Codex CLI's own headers, which the ChatGPT backend reads (codex OAuth dialect).
  'originator',
  'version',
  'session_id',
  'x-codex-turn-metadata',
  'x-client-request-id',
];

/** An answer sent before the body was read: the client may still be sending it, so the connection closes. */
const CLOSE_UNREAD = { connection: 'close' };

/** A shed request: the burst passes, so the client is told to come back shortly. */
const SHED_HEADERS = { ...CLOSE_UNREAD, 'retry-after': '1' };

export interface ProxyCall {
  format: ClientFormat;
  req: IncomingMessage;
  res: ServerResponse;
  /** The request's query string, parsed. */
  query: URLSearchParams;
  /** Gemini routes carry model and streaming in the path. */
  urlModel?: string;
  urlStream?: boolean;
  /** A `RouteActions` value (count tokens, Gemini JSON-array stream). */
  action?: RouteAction;
  /** The route's path template, the `route` label of the gateway's metrics. */
  route?: string;
  /** Set by `proxy` once the body is read: the model asked for (metrics). */
  model?: string;
}

/**
 * The client-facing half of the request path: read the body, authenticate, read routing fields once,
 * hand the request to the scheduler and relay the reply frames as they come.
 */
@Injectable()
export class GatewayService {
  private readonly logger = new Logger(GatewayService.name);
  private readonly inFlight: InFlightLimit;

  constructor(
    private readonly clientKeys: ClientKeyService,
    private readonly transport: RedisTransportClient,
    private readonly catalog: Catalog,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    private readonly admission: ClientKeyAdmission,
  ) {
    this.inFlight = new InFlightLimit(options.inFlight ?? DEFAULT_IN_FLIGHT_LIMITS);
  }

  /**
   * Past the in-flight caps a request is answered 503 at once, before anything else is done
   * for it; an admitted one holds its share until it ends, whichever way it ends (answered,
   * refused, client gone, relay cut off, or a bug thrown out of `serve`).
   */
  async proxy(call: ProxyCall): Promise<void> {
    const declared = Math.min(Number(call.req.headers['content-length']) || 0, this.options.bodyLimitBytes);
    const admitted = this.inFlight.admit(declared);
    if (!admitted.ok) {
      metrics.gatewayShed.inc({ reason: admitted.reason });
      return writeJson(
        call.res,
        503,
        clientErrorBody(call.format, 503, 'The gateway is at capacity; retry shortly'),
        SHED_HEADERS,
      );
    }
    try {
      await this.serve(call, admitted.ticket);
    } finally {
      admitted.ticket.release();
    }
  }

  /**
   * The client key is checked from the headers before a byte of the body is read, so an
   * unauthenticated caller cannot make the gateway buffer bodies up to the limit.
   */
  private async serve(call: ProxyCall, ticket: InFlightTicket): Promise<void> {
    const { format, req, res } = call;
    // Start of the usage record's latency: before the key check and the body read.
    const receivedAt = Date.now();
    const requestId = requestIdOf(req, res);
    let verdict;
    try {
      verdict = await this.clientKeys.check(extractClientKey(req.headers, call.query));
    } catch (err) {
      // Postgres unreachable and the key not cached: say so, never a bare 500.
      this.logger.warn(`client key check failed: ${(err as Error).message}`);
      return writeJson(
        res,
        503,
        clientErrorBody(format, 503, 'Client key verification is temporarily unavailable; retry shortly'),
        CLOSE_UNREAD,
      );
    }
    if (!verdict.ok) {
      if (verdict.reason === 'disabled' || verdict.reason === 'expired') {
        const refused = keyRefusal(format, verdict.reason, verdict.expiredAt);
        return writeJson(res, refused.status, refused.body, CLOSE_UNREAD);
      }
      return writeJson(
        res,
        401,
        verdict.reason === 'missing' ? MISSING_API_KEY_BODY : INVALID_API_KEY_BODY,
        CLOSE_UNREAD,
      );
    }

    let body: Buffer | undefined;
    try {
      body = await readBody(req, this.options.bodyLimitBytes, (received) => ticket.hold(received));
    } catch (err) {
      const status = err instanceof BodyTooLargeError ? 413 : 400;
      return writeJson(
        res,
        status,
        clientErrorBody(format, status, status === 413 ? (err as Error).message : 'Invalid request body'),
        CLOSE_UNREAD,
      );
    }

    let fields;
    try {
      fields = readRequestFields(format, body, call.urlModel, call.urlStream);
    } catch (err) {
      const status = err instanceof BadRequestError ? err.status : 400;
      return writeJson(res, status, clientErrorBody(format, status, (err as Error).message));
    }
    call.model = fields.model;

    // Allowed models, rate limits and budgets: after the body, which names the model.
    const refused = await this.admission.admit(format, verdict.client, fields.model);
    if (refused) return writeJson(res, refused.status, refused.body, refused.headers);

    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    let sessionIds: string[] = [];
    // Hashing messages costs CPU (and a parse of the whole body) on every request: only when affinity is on.
    if (this.catalog.snapshot.settings.sessionAffinity) {
      try {
        sessionIds = sessionIdList(extractSessionIds(headers, parseRequestBody(body)));
      } catch (err) {
        const status = err instanceof BadRequestError ? err.status : 400;
        return writeJson(res, status, clientErrorBody(format, status, (err as Error).message));
      }
    }
    const route: RouteRequest = {
      requestId,
      clientFormat: format,
      model: fields.model,
      stream: fields.stream,
      sessionIds,
      clientKeyId: verdict.client.id,
      action: call.action,
      headers,
      deadline: Date.now() + this.options.requestTimeoutMs,
      receivedAt,
      bodyLayout: fields.layout,
    };
    const flow = new ReplyFlow();
    const frames = this.transport.request(Patterns.dispatch, route, { body, deadline: route.deadline, flow });
    // The transport stores the body; this function must not hold it while the reply streams.
    body = undefined;
    await relayFrames(frames, res, format, flow, this.options.relay);
  }

  /**
   * Counts an answered request (cpa_gateway_requests_total and its duration). The family is
   * the provider family serving the model in the catalog (`multiple`, `none`); a model no
   * credential serves is labelled `other`, so client input never becomes a series.
   */
  observe(call: Pick<ProxyCall, 'route' | 'format' | 'model'>, status: number, startedMs: number): void {
    const registry = this.catalog.snapshot.registry;
    const served = call.model !== undefined ? registry.lookup(call.model) : [];
    const families = new Set(served.map((s) => s.provider));
    const [only] = families;
    const labels = {
      route: call.route ?? call.format,
      family: families.size === 0 ? 'none' : families.size === 1 ? only! : 'multiple',
      model: modelLabel(call.model, () => served.length > 0),
    };
    metrics.gatewayRequests.inc({ ...labels, status: statusLabel(status) });
    metrics.gatewayRequestDuration.observe(labels, secondsSince(startedMs));
  }
}

/**
 * The id the request logging hook gave this request and answers as `x-request-id` (it is
 * on every log line of the request); made here when no hook ran (unit tests).
 */
function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const answered = res.getHeader(REQUEST_ID_HEADER);
  if (typeof answered === 'string') return answered;
  const made = requestIdFor(req.headers[REQUEST_ID_HEADER]);
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, made);
  return made;
}
