import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Observable, of } from 'rxjs';
import { Catalog, type CredentialInfo } from '@cpa/catalog';
import { effectiveProxyUrl, SettingKeys } from '@cpa/config';
import {
  clientErrorBody,
  Patterns,
  RouteActions,
  type AnsweredRequest,
  type AttemptFailure,
  type AttemptResult,
  type ClientFormat,
  type ExecuteRequest,
  type ResponseHead,
  type TokenUsage,
} from '@cpa/contracts';
import {
  codecFor,
  createStreamAggregator,
  parseModelSuffix,
  streamFromResponse,
  UpstreamStreamError,
} from '@cpa/formats';
import { forward, frame, type Forward, type Frame } from '@cpa/transport';
import type { Dispatcher } from 'undici';
import { CREDENTIAL_REFRESHER, type CredentialRefresher } from './credential-refresher';
import { PROVIDER_ADAPTERS } from './families';
import { tokenFingerprint } from './oauth/secret';
import type { CredentialSecret, ProviderAdapter, UpstreamBody } from './provider-adapter';
import { unwrapJsonBytes, unwrapStream } from './response-unwrap';
import {
  errorEntry,
  REQUEST_ERROR_LOG,
  secretValues,
  type FailedExchange,
  type RequestErrorRecorder,
} from './request-error-log';
import { retryAfterMs } from './retry-hint';
import { SecretStore } from './secret-store';
import { observeAttempt, observeUpstreamResponse, upstreamLabels } from './upstream-metrics';
import { streamErrorStatus } from './stream-errors';
import { createStreamRelay, type StreamRelay, type UpstreamStreamFailure } from './stream-relay';
import {
  countFromResponse,
  countTokensRequestBody,
  countTokensResponse,
  estimateInputTokens,
  planCountTokens,
} from './token-count';
import {
  clientContentType,
  clientFailureBody,
  JSON_CONTENT_TYPE,
  planExchange,
  rewriteRequestBody,
  toTokenUsage,
  upstreamRequestBody,
  usageOfBody,
  type ExchangePlan,
} from './translation';
import { UpstreamClient } from './upstream-client';

/** Where finished attempts are reported (the scheduler's one-way result queue). */
export interface AttemptReporter {
  report(result: AttemptResult): void;
}
export const ATTEMPT_REPORTER = Symbol('ATTEMPT_REPORTER');

// retry-after reaches the client as the upstream wrote it (AttemptFailure.retryAfterMs is the parsed copy for cooldowns).
const PASSED_RESPONSE_HEADERS = [
  'content-type',
  'retry-after',
  'request-id',
  'x-request-id',
  'openai-processing-ms',
  'anthropic-ratelimit-requests-remaining',
];

/** How long a refresh-on-401 waits for the catalog snapshot to show the refreshed credential. */
const SNAPSHOT_CATCH_UP_MS = 3_000;

/** Most upstream bytes held back while waiting for the stream's first event (then relayed regardless). */
const FIRST_EVENT_HOLD_LIMIT = 256 * 1024;

function pickHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_RESPONSE_HEADERS) {
    const value = raw[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The upstream refused the attempt before its first byte: the failure goes to the scheduler as is. */
class UpstreamRefused extends Error {
  constructor(readonly failure: Forward) {
    super('upstream refused the attempt');
  }
}

class AttemptFailed extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly network: boolean,
  ) {
    super(message);
  }
}

/** Backpressure from the caller (the transport context): a pending promise while the client is not reading. */
export interface ReplyFlowControl {
  whenWritable(): Promise<void> | undefined;
}

interface Attempt {
  req: ExecuteRequest;
  body: Buffer;
  signal: AbortSignal;
  flow?: ReplyFlowControl;
  credential: CredentialInfo;
  adapter: ProviderAdapter;
  /** The last upstream request sent: what the request error log shows when it fails. */
  sent?: { url: string; headers: Record<string, string>; body: UpstreamBody; secret: CredentialSecret };
}

/**
 * Performs one upstream attempt, translating between the client's format and the
 * upstream's when they differ (see README.md). Before the first byte reaches the client
 * a failure is forwarded to the scheduler (which may retry on another credential); after
 * it, errors end the stream in the client's format.
 */
@Injectable()
export class ExecutionService {
  private readonly logger = new Logger(ExecutionService.name);

  constructor(
    private readonly catalog: Catalog,
    private readonly secrets: SecretStore,
    private readonly upstream: UpstreamClient,
    @Inject(ATTEMPT_REPORTER) private readonly reporter: AttemptReporter,
    @Optional() @Inject(CREDENTIAL_REFRESHER) private readonly refresher?: CredentialRefresher,
    @Optional() @Inject(REQUEST_ERROR_LOG) private readonly errorLog?: RequestErrorRecorder,
  ) {}

  /**
   * A complete answer comes back as one Frame rather than an Observable of it: the reply is
   * the same single message, and NestJS pipes only Observables through its per-request
   * error-handling operators, which cost the executor more than the rest of the reply path.
   */
  async execute(
    req: ExecuteRequest,
    body: Buffer,
    signal: AbortSignal,
    flow?: ReplyFlowControl,
  ): Promise<Frame | Observable<Frame> | Forward> {
    const started = performance.now();
    const result = await this.attempt(req, body, signal, flow);
    return observeAttempt(result, upstreamLabels(this.catalog.snapshot, req), started) as
      Frame | Observable<Frame> | Forward;
  }

  private async attempt(
    req: ExecuteRequest,
    body: Buffer,
    signal: AbortSignal,
    flow?: ReplyFlowControl,
  ): Promise<Frame | Observable<Frame> | Forward> {
    const credential = this.catalog.snapshot.byId.get(req.credentialId);
    if (!credential) return this.fail(req, 503, 'credential is no longer configured', true);
    const attempt: Attempt = { req, body, signal, flow, credential, adapter: PROVIDER_ADAPTERS[req.family] };
    try {
      if (req.route.action === RouteActions.countTokens) return await this.countTokens(attempt);
      return await this.generate(attempt);
    } catch (err) {
      if (signal.aborted) return of();
      if (err instanceof UpstreamRefused) return err.failure;
      if (err instanceof AttemptFailed) return this.fail(req, err.status, err.message, err.network);
      throw err;
    }
  }

  private async generate(attempt: Attempt): Promise<Frame | Observable<Frame> | Forward> {
    const { req, body } = attempt;
    const plan = planExchange(req.route, attempt.adapter, req.upstreamModel);
    let upstreamBody: UpstreamBody;
    try {
      upstreamBody = upstreamRequestBody(plan, req.route, body, req.upstreamModel);
    } catch (err) {
      throw new AttemptFailed(400, `cannot read the ${plan.client} request: ${(err as Error).message}`, false);
    }
    const response = await this.send(attempt, plan.upstream, plan.upstreamModel, plan.upstreamStream, upstreamBody);

    const upstreamHeaders = pickHeaders(response.headers);
    const head = (status = response.statusCode): ResponseHead => {
      if (plan.response === 'relay-body' || plan.response === 'relay-stream')
        return { status, headers: upstreamHeaders };
      return { status, headers: { ...upstreamHeaders, 'content-type': clientContentType(plan) } };
    };

    switch (plan.response) {
      case 'relay-body': {
        const bytes = await this.readBody(response, attempt.adapter);
        this.reportSuccess(req, response.statusCode, usageOfBody(plan.upstream, bytes));
        return frame({ ...head(), complete: true }, bytes);
      }
      case 'translate-body':
      case 'synthesize-stream': {
        const json = parseJson(await this.readBody(response, attempt.adapter));
        const canonical = codecFor(plan.upstream).decodeResponse(json);
        const out =
          plan.response === 'translate-body'
            ? JSON.stringify(codecFor(plan.client).encodeResponse(canonical, { model: req.route.model }))
            : streamFromResponse(plan.client, canonical, { model: req.route.model, jsonArray: plan.jsonArray });
        // A synthesized stream reaches the client in one frame: its first byte is now.
        this.reportSuccess(
          req,
          response.statusCode,
          toTokenUsage(canonical.usage),
          plan.response === 'synthesize-stream' ? Date.now() : undefined,
        );
        return frame({ ...head(), complete: plan.response === 'translate-body' }, Buffer.from(out));
      }
      case 'aggregate':
        return this.aggregate(attempt, plan, response, head());
      default:
        return this.stream(attempt, plan, response, head());
    }
  }

  /** A streaming-only upstream answering a client that wants one body: nothing is sent until the stream ends. */
  private async aggregate(
    attempt: Attempt,
    plan: ExchangePlan,
    response: Dispatcher.ResponseData,
    head: ResponseHead,
  ): Promise<Frame> {
    const aggregator = createStreamAggregator(plan.upstream);
    try {
      for await (const chunk of upstreamChunks(response, attempt.adapter)) aggregator.push(chunk);
    } catch (err) {
      throw new AttemptFailed(502, `upstream stream failed: ${(err as Error).message}`, true);
    }
    let canonical;
    try {
      canonical = aggregator.end();
    } catch (err) {
      if (!(err instanceof UpstreamStreamError)) throw err;
      const status = streamErrorStatus(err.error);
      throw new AttemptFailed(status, `upstream stream reported an error: ${err.message}`, status >= 500);
    }
    const bytes = Buffer.from(
      JSON.stringify(codecFor(plan.client).encodeResponse(canonical, { model: attempt.req.route.model })),
    );
    this.reportSuccess(attempt.req, head.status, toTokenUsage(canonical.usage));
    return frame({ ...head, complete: true }, bytes);
  }

  /**
   * Nothing reaches the client before the upstream's first event: a stream that opens with
   * an error event (overloaded, rate limited) is still a failure before the first byte,
   * which the scheduler may retry on another credential.
   */
  private async stream(
    attempt: Attempt,
    plan: ExchangePlan,
    response: Dispatcher.ResponseData,
    head: ResponseHead,
  ): Promise<Observable<Frame>> {
    const chunks = upstreamChunks(response, attempt.adapter)[Symbol.asyncIterator]();
    const relay = createStreamRelay(plan, attempt.req.route.model);
    const held: Buffer[] = [];
    let heldBytes = 0;
    while (!relay.firstEvent && heldBytes < FIRST_EVENT_HOLD_LIMIT) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw new AttemptFailed(502, `upstream stream failed before its first byte: ${(err as Error).message}`, true);
      }
      if (next.done) throw new AttemptFailed(502, 'upstream closed the stream before sending any data', true);
      held.push(relay.push(next.value));
      heldBytes += next.value.length;
    }
    if (relay.firstEvent?.type === 'error' && relay.failure) {
      response.body.destroy();
      throw new UpstreamRefused(this.streamFailure(attempt, plan, response.headers, relay.failure));
    }
    return this.relayStream(
      attempt.req,
      relay,
      head,
      Buffer.concat(held),
      chunks,
      () => response.body.destroy(),
      attempt.flow,
    );
  }

  /** A stream that opened with an error event, as the failure of a non-streamed answer with the status it stands for. */
  private streamFailure(
    attempt: Attempt,
    plan: ExchangePlan,
    headers: Dispatcher.ResponseData['headers'],
    failure: UpstreamStreamFailure,
  ): Forward {
    const status = streamErrorStatus(failure.error);
    const body = hasErrorEnvelope(failure.data)
      ? clientFailureBody(plan.upstream, plan.client, status, failure.data).body
      : JSON.stringify(codecFor(plan.client).encodeError({ ...failure.error, status }));
    return this.forwardFailure(
      attempt,
      status,
      { ...pickHeaders(headers), 'content-type': JSON_CONTENT_TYPE },
      body,
      retryAfterMs(headers, failure.data),
    );
  }

  /**
   * While the client is not reading (flow paused), nothing more is read from the upstream:
   * its bytes wait in the socket, and TCP slows the upstream down.
   */
  private relayStream(
    req: ExecuteRequest,
    relay: StreamRelay,
    head: ResponseHead,
    first: Buffer,
    rest: AsyncIterator<Buffer>,
    destroy: () => void,
    flow?: ReplyFlowControl,
  ): Observable<Frame> {
    return new Observable<Frame>((subscriber) => {
      let stopped = false;
      const firstByteAt = Date.now();
      subscriber.next(frame(head, nonEmpty(first)));
      const nextChunk = async () => {
        const paused = flow?.whenWritable();
        if (paused) await paused;
        return rest.next();
      };
      void (async () => {
        try {
          for (let next = await nextChunk(); !next.done && !stopped; next = await nextChunk()) {
            const out = nonEmpty(relay.push(next.value));
            if (out) subscriber.next(frame(undefined, out));
          }
          if (stopped) return;
          const tail = nonEmpty(relay.end());
          if (tail) subscriber.next(frame(undefined, tail));
          // An error event after the first payload reached the client in its format; the attempt still failed.
          if (relay.failure)
            this.reportStreamFailure(
              req,
              streamErrorStatus(relay.failure.error),
              `upstream stream reported an error: ${relay.failure.error.message}`,
              relay,
              firstByteAt,
            );
          else if (!relay.firstEvent) {
            // Bytes came, but never one whole event (an endless line, a stream cut mid-event): not a success.
            const message = 'upstream stream ended without a complete event';
            subscriber.next(frame(undefined, relay.error(502, message)));
            this.reportStreamFailure(req, 502, message, relay, firstByteAt);
          } else this.reportSuccess(req, head.status, relay.usage(), firstByteAt);
        } catch (err) {
          if (stopped) return;
          const message = `upstream stream broke: ${(err as Error).message}`;
          subscriber.next(frame(undefined, relay.error(502, message)));
          this.reportStreamFailure(req, 502, message, relay, firstByteAt);
        }
        subscriber.complete();
      })();
      return () => {
        stopped = true;
        destroy();
      };
    });
  }

  private reportStreamFailure(
    req: ExecuteRequest,
    status: number,
    error: string,
    relay: StreamRelay,
    firstByteAt: number,
  ): void {
    const usage = relay.usage();
    this.reporter.report({
      ...this.resultBase(req, firstByteAt),
      ok: false,
      status,
      error,
      ...(usage ? { usage } : {}),
    });
  }

  /** count_tokens / countTokens: natively where the upstream counts, else a local estimate. */
  private async countTokens(attempt: Attempt): Promise<Frame | Forward> {
    const { req, body } = attempt;
    const client = req.route.clientFormat;
    const plan = planCountTokens(client, attempt.adapter);
    const baseModel = parseModelSuffix(req.upstreamModel).baseModel;
    const answer = (tokens: number) => {
      this.reportSuccess(req, 200, undefined);
      const bytes = Buffer.from(JSON.stringify(countTokensResponse(client, tokens)));
      return frame({ status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, complete: true }, bytes);
    };

    if (plan.mode === 'relay') {
      const upstreamBody = this.prepare(
        () => rewriteRequestBody(client, body, { model: baseModel }, req.route.bodyLayout),
        client,
      );
      const response = await this.send(attempt, plan.upstream, baseModel, false, upstreamBody);
      const bytes = await this.readBody(response, attempt.adapter);
      this.reportSuccess(req, response.statusCode, undefined);
      return frame({ status: response.statusCode, headers: pickHeaders(response.headers), complete: true }, bytes);
    }

    const canonical = this.prepare(
      () => codecFor(client).decodeRequest(parseJson(body), { model: req.route.model, stream: false }),
      client,
    );
    if (plan.mode === 'estimate') return answer(estimateInputTokens(canonical));

    const upstreamBody = Buffer.from(
      JSON.stringify(countTokensRequestBody(plan.upstream, canonical, req.upstreamModel)),
    );
    const response = await this.send(attempt, plan.upstream, baseModel, false, upstreamBody);
    const tokens = countFromResponse(plan.upstream, parseJson(await this.readBody(response, attempt.adapter)));
    return answer(tokens ?? estimateInputTokens(canonical));
  }

  private prepare<T>(build: () => T, client: string): T {
    try {
      return build();
    } catch (err) {
      throw new AttemptFailed(400, `cannot read the ${client} request: ${(err as Error).message}`, false);
    }
  }

  /**
   * One upstream call; an error status becomes an `UpstreamRefused`. An OAuth credential
   * whose token the upstream refuses (401) is refreshed once through the refresh-worker
   * and the call repeated with the new token; a second 401 is an ordinary failure.
   */
  private async send(
    attempt: Attempt,
    format: ClientFormat,
    upstreamModel: string,
    stream: boolean,
    upstreamBody: UpstreamBody,
  ): Promise<Dispatcher.ResponseData> {
    const call = (secret: CredentialSecret) => this.call(attempt, format, upstreamModel, stream, upstreamBody, secret);
    let secret = await this.secretOf(attempt);
    if (attempt.credential.kind === 'oauth' && this.refresher && attempt.adapter.secretIncomplete?.(secret)) {
      // E.g. an imported Antigravity file without a project: the refresh looks it up.
      secret = (await this.refreshedSecret(attempt, secret)) ?? secret;
    }
    let response = await call(secret);
    if (response.statusCode === 401 && attempt.credential.kind === 'oauth' && this.refresher) {
      const text = await response.body.text().catch(() => '');
      const fresh = await this.refreshedSecret(attempt, secret);
      if (!fresh) {
        this.logError(attempt, { status: response.statusCode, headers: response.headers, body: text });
        throw new UpstreamRefused(this.upstreamFailure(attempt, format, response, text));
      }
      response = await call(fresh);
    }
    if (response.statusCode >= 400) {
      const text = await response.body.text().catch(() => '');
      this.logError(attempt, { status: response.statusCode, headers: response.headers, body: text });
      throw new UpstreamRefused(this.upstreamFailure(attempt, format, response, text));
    }
    return response;
  }

  private async secretOf(attempt: Attempt): Promise<CredentialSecret> {
    try {
      return await this.secrets.get(attempt.credential);
    } catch (err) {
      throw new AttemptFailed(500, `cannot prepare upstream request: ${(err as Error).message}`, true);
    }
  }

  private async call(
    attempt: Attempt,
    format: ClientFormat,
    upstreamModel: string,
    stream: boolean,
    upstreamBody: UpstreamBody,
    secret: CredentialSecret,
  ): Promise<Dispatcher.ResponseData> {
    const { req, credential, adapter, signal } = attempt;
    let target;
    let body = upstreamBody;
    try {
      const upstreamCall = {
        route: req.route,
        format,
        upstreamModel,
        kind: credential.kind,
        baseUrl: credential.baseUrl,
        headers: credential.headers,
        secret,
        credentialId: credential.id,
      };
      target = adapter.target(upstreamCall, stream);
      if (adapter.prepareBody) body = adapter.prepareBody(upstreamCall, upstreamBody, stream, target);
    } catch (err) {
      throw new AttemptFailed(500, `cannot prepare upstream request: ${(err as Error).message}`, true);
    }
    const urls = [target.url, ...(target.fallbackUrls ?? [])];
    const labels = upstreamLabels(this.catalog.snapshot, req);
    for (let i = 0; ; i++) {
      const last = i === urls.length - 1;
      let response: Dispatcher.ResponseData;
      const sent = performance.now();
      attempt.sent = { url: urls[i]!, headers: target.headers, body, secret };
      try {
        response = await this.upstream.send({
          url: urls[i],
          headers: target.headers,
          body,
          signal,
          proxyUrl: this.proxyOf(credential),
        });
        observeUpstreamResponse(labels, response.statusCode, sent);
      } catch (err) {
        observeUpstreamResponse(labels, undefined, sent);
        if (!last && !signal.aborted) continue;
        if (!signal.aborted) this.logError(attempt, undefined, `upstream request failed: ${(err as Error).message}`);
        throw new AttemptFailed(502, `upstream request failed: ${(err as Error).message}`, true);
      }
      // A rate-limited base URL is not the account's last word while another base remains.
      if (last || response.statusCode !== 429) return response;
      await response.body.dump().catch(() => undefined);
    }
  }

  /** Adds the failed exchange to the request error log; never delays or fails the request. */
  private logError(attempt: Attempt, response: FailedExchange['response'], error?: string): void {
    if (!this.errorLog || !attempt.sent) return;
    const { url, headers, body, secret } = attempt.sent;
    const entry = errorEntry(attempt.req, { url, headers, body, response, error }, secretValues(secret));
    this.errorLog
      .record(entry)
      .catch((err: unknown) => this.logger.debug(`request error log not written: ${(err as Error).message}`));
  }

  /** The credential's proxy_url, else the global proxy-url; throws for an unusable one (never silently direct). */
  private proxyOf(credential: CredentialInfo): string | undefined {
    return effectiveProxyUrl(credential.proxyUrl, this.catalog.snapshot.rawSettings?.[SettingKeys.proxyUrl]);
  }

  /**
   * Refresh-on-401: asks the refresh-worker for tokens newer than the refused ones (it
   * republishes the catalog snapshot before answering), then re-reads the snapshot and opens
   * the credential's new secret. Undefined when there are none.
   */
  private async refreshedSecret(attempt: Attempt, refused: CredentialSecret): Promise<CredentialSecret | undefined> {
    const { credential, signal } = attempt;
    if (!refused.accessToken) return undefined;
    const reply = await this.refresher!.refreshRejected(credential.id, tokenFingerprint(refused.accessToken), signal);
    if (!reply.ok) {
      this.logger.warn(
        `credential ${credential.id}: upstream refused its token and no newer one is available (${reply.reason ?? 'unknown'})`,
      );
      return undefined;
    }
    this.secrets.forget(credential.id);
    await this.snapshotAtLeast(credential.id, reply.version, signal);
    const fresh = await this.secretOf({
      ...attempt,
      credential: this.catalog.snapshot.byId.get(credential.id) ?? credential,
    });
    if (!fresh.accessToken || fresh.accessToken === refused.accessToken) return undefined;
    this.logger.log(
      `credential ${credential.id}: token refreshed on demand (version ${reply.version ?? '?'}); calling with it`,
    );
    return fresh;
  }

  /**
   * Reloads the catalog until it holds `version` of the credential (bounded): a refresh
   * another worker finished may be in Postgres a moment before its snapshot is republished.
   */
  private async snapshotAtLeast(credentialId: string, version: number | undefined, signal: AbortSignal): Promise<void> {
    const until = Date.now() + SNAPSHOT_CATCH_UP_MS;
    for (;;) {
      await this.catalog.reload();
      const current = this.catalog.snapshot.byId.get(credentialId)?.version ?? 0;
      if (version === undefined || current >= version || Date.now() >= until || signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A successful upstream answer's body, unwrapped when the family wraps its answers. */
  private async readBody(response: Dispatcher.ResponseData, adapter: ProviderAdapter): Promise<Buffer> {
    try {
      const bytes = Buffer.from(await response.body.arrayBuffer());
      return adapter.unwrapResponse ? unwrapJsonBytes(bytes, adapter.unwrapResponse) : bytes;
    } catch (err) {
      throw new AttemptFailed(502, `upstream body failed: ${(err as Error).message}`, true);
    }
  }

  /** An upstream error status: forwarded to the scheduler, body in the client's error format. */
  private upstreamFailure(
    attempt: Attempt,
    upstream: ClientFormat,
    response: Dispatcher.ResponseData,
    text: string,
  ): Forward {
    const headers = pickHeaders(response.headers);
    const status = attempt.adapter.failureStatus?.(response.statusCode, text) ?? response.statusCode;
    const translated = clientFailureBody(upstream, attempt.req.route.clientFormat, status, text);
    if (translated.translated) headers['content-type'] = JSON_CONTENT_TYPE;
    return this.forwardFailure(attempt, status, headers, translated.body, retryAfterMs(response.headers, text));
  }

  private forwardFailure(
    attempt: Attempt,
    status: number,
    headers: Record<string, string>,
    body: string,
    retryAfter: number | undefined,
  ): Forward {
    const failure: AttemptFailure = {
      execute: attempt.req,
      status,
      headers,
      body,
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
    };
    // The request's own body goes along (undefined): one stored by reference is handed on as a reference, not re-sent.
    return forward(Patterns.attemptFailed, failure);
  }

  /** The attempt's identity and the request it answered (for the request's usage record). */
  private resultBase(req: ExecuteRequest, firstByteAt?: number): Omit<AttemptResult, 'ok' | 'status'> {
    const { route } = req;
    const request: AnsweredRequest = {
      requestId: route.requestId,
      model: route.model,
      attempts: req.attempt + 1,
      finishedAt: Date.now(),
      ...(route.receivedAt !== undefined ? { receivedAt: route.receivedAt } : {}),
      ...(firstByteAt !== undefined ? { firstByteAt } : {}),
    };
    return {
      credentialId: req.credentialId,
      family: req.family,
      baseModel: req.baseModel,
      clientKeyId: route.clientKeyId,
      request,
    };
  }

  private reportSuccess(
    req: ExecuteRequest,
    status: number,
    usage: TokenUsage | undefined,
    firstByteAt?: number,
  ): void {
    this.reporter.report({ ...this.resultBase(req, firstByteAt), ok: true, status, ...(usage ? { usage } : {}) });
  }

  /** A failure before the first byte, handed back to the scheduler with the request's body (see forwardFailure) for a retry. */
  private fail(req: ExecuteRequest, status: number, message: string, network: boolean): Forward {
    this.logger.debug(`attempt ${req.attempt} on ${req.credentialId} failed: ${status}`);
    const failure: AttemptFailure = {
      execute: req,
      status,
      headers: { 'content-type': JSON_CONTENT_TYPE },
      body: JSON.stringify(clientErrorBody(req.route.clientFormat, status, message)),
      network,
    };
    return forward(Patterns.attemptFailed, failure);
  }
}

/** An upstream stream's chunks, each event unwrapped when the family wraps its answers. */
function upstreamChunks(response: Dispatcher.ResponseData, adapter: ProviderAdapter): AsyncIterable<Buffer> {
  const body = response.body as AsyncIterable<Buffer>;
  return adapter.unwrapResponse ? unwrapStream(body, adapter.unwrapResponse) : body;
}

function nonEmpty(buf: Buffer | undefined): Buffer | undefined {
  return buf && buf.length ? buf : undefined;
}

function parseJson(bytes: ArrayBuffer | Buffer): unknown {
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AttemptFailed(502, `upstream answered with invalid JSON: ${(err as Error).message}`, true);
  }
}

/** Whether an error event's payload is already an error envelope (`{"error": {...}}`) a client understands. */
function hasErrorEnvelope(data: string): boolean {
  try {
    const json: unknown = JSON.parse(data);
    const root = Array.isArray(json) ? json[0] : json;
    return typeof root === 'object' && root !== null && typeof (root as { error?: unknown }).error === 'object';
  } catch {
    return false;
  }
}
