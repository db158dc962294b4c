import { Inject, Injectable, Logger } from '@nestjs/common';
import { Observable, of } from 'rxjs';
import { Catalog, type CredentialInfo } from '@cpa/catalog';
import {
  Patterns,
  type AttemptFailure,
  type AttemptResult,
  type ExecuteRequest,
  type ResponseHead,
} from '@cpa/contracts';
import { forward, frame, type Forward, type Frame } from '@cpa/transport';
import { PROVIDER_ADAPTERS } from './families';
import { retryAfterMs } from './retry-hint';
import { SecretStore } from './secret-store';
import { streamErrorEvent } from './stream-errors';
import { UpstreamClient } from './upstream-client';

/** Where finished attempts are reported (the scheduler's one-way result queue). */
export interface AttemptReporter {
  report(result: AttemptResult): void;
}
export const ATTEMPT_REPORTER = Symbol('ATTEMPT_REPORTER');

const PASSED_RESPONSE_HEADERS = ['content-type', 'request-id', 'x-request-id', 'openai-processing-ms', 'anthropic-ratelimit-requests-remaining'];

function pickHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_RESPONSE_HEADERS) {
    const value = raw[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The request body with the model replaced, keeping the client's bytes when nothing changes. */
export function withUpstreamModel(body: Buffer, requestedModel: string, upstreamModel: string): Buffer {
  if (requestedModel === upstreamModel || body.length === 0) return body;
  const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  if (!('model' in json)) return body;
  json.model = upstreamModel;
  return Buffer.from(JSON.stringify(json));
}

/**
 * Performs one upstream attempt. Before the first byte reaches the client a failure is
 * forwarded to the scheduler (which may retry on another credential); after it, errors
 * end the stream in the client's format.
 */
@Injectable()
export class ExecutionService {
  private readonly logger = new Logger(ExecutionService.name);

  constructor(
    private readonly catalog: Catalog,
    private readonly secrets: SecretStore,
    private readonly upstream: UpstreamClient,
    @Inject(ATTEMPT_REPORTER) private readonly reporter: AttemptReporter,
  ) {}

  async execute(req: ExecuteRequest, body: Buffer, signal: AbortSignal): Promise<Observable<Frame> | Forward> {
    const credential = this.catalog.snapshot.byId.get(req.credentialId);
    if (!credential) return this.fail(req, body, 503, 'credential is no longer configured', true);
    const adapter = PROVIDER_ADAPTERS[req.family];
    if (adapter.upstreamFormat !== req.route.clientFormat && !(adapter.family === 'openai-compat' && req.route.clientFormat === 'openai-completions')) {
      return this.fail(req, body, 400, `translation from ${req.route.clientFormat} to ${adapter.upstreamFormat} is not available`, false);
    }

    let target;
    let upstreamBody: Buffer;
    try {
      const secret = await this.secrets.get(credential);
      target = adapter.target(
        { route: req.route, upstreamModel: req.upstreamModel, kind: credential.kind, baseUrl: credential.baseUrl, headers: credential.headers, secret },
        req.route.stream,
      );
      upstreamBody = withUpstreamModel(body, req.route.model, req.upstreamModel);
    } catch (err) {
      return this.fail(req, body, 500, `cannot prepare upstream request: ${(err as Error).message}`, true);
    }

    let response;
    try {
      response = await this.upstream.send({ url: target.url, headers: target.headers, body: upstreamBody, signal, proxyUrl: credential.proxyUrl || undefined });
    } catch (err) {
      if (signal.aborted) return of();
      return this.fail(req, body, 502, `upstream request failed: ${(err as Error).message}`, true);
    }

    const head: ResponseHead = { status: response.statusCode, headers: pickHeaders(response.headers) };
    if (response.statusCode >= 400) {
      const text = await response.body.text().catch(() => '');
      const failure: AttemptFailure = {
        execute: req,
        status: response.statusCode,
        headers: head.headers,
        body: text,
        retryAfterMs: retryAfterMs(response.headers, text),
      };
      return forward(Patterns.attemptFailed, failure, body);
    }

    if (!req.route.stream) {
      const bytes = Buffer.from(await response.body.arrayBuffer());
      this.reportSuccess(req, credential, response.statusCode);
      return of(frame({ ...head, complete: true }, bytes));
    }

    const chunks = response.body[Symbol.asyncIterator]();
    let first: IteratorResult<Buffer>;
    try {
      first = await chunks.next();
    } catch (err) {
      if (signal.aborted) return of();
      return this.fail(req, body, 502, `upstream stream failed before its first byte: ${(err as Error).message}`, true);
    }
    if (first.done) return this.fail(req, body, 502, 'upstream closed the stream before sending any data', true);
    return this.relayStream(req, credential, head, first.value, chunks, () => response.body.destroy());
  }

  private relayStream(
    req: ExecuteRequest,
    credential: CredentialInfo,
    head: ResponseHead,
    first: Buffer,
    rest: AsyncIterator<Buffer>,
    destroy: () => void,
  ): Observable<Frame> {
    return new Observable<Frame>((subscriber) => {
      let stopped = false;
      subscriber.next(frame(head, first));
      void (async () => {
        try {
          for (let next = await rest.next(); !next.done && !stopped; next = await rest.next()) subscriber.next(frame(undefined, next.value));
          if (stopped) return;
          this.reportSuccess(req, credential, head.status);
        } catch (err) {
          if (stopped) return;
          const message = `upstream stream broke: ${(err as Error).message}`;
          subscriber.next(frame(undefined, streamErrorEvent(req.route.clientFormat, 502, message)));
          this.reporter.report({ ...this.resultBase(req), ok: false, status: 502, error: message });
        }
        subscriber.complete();
      })();
      return () => {
        stopped = true;
        destroy();
      };
    });
  }

  private resultBase(req: ExecuteRequest): Omit<AttemptResult, 'ok' | 'status'> {
    return { credentialId: req.credentialId, family: req.family, baseModel: req.baseModel, clientKeyId: req.route.clientKeyId };
  }

  private reportSuccess(req: ExecuteRequest, _credential: CredentialInfo, status: number): void {
    this.reporter.report({ ...this.resultBase(req), ok: true, status });
  }

  /** A failure before the first byte, handed back to the scheduler with the body for a retry. */
  private fail(req: ExecuteRequest, body: Buffer, status: number, message: string, network: boolean): Forward {
    this.logger.debug(`attempt ${req.attempt} on ${req.credentialId} failed: ${status}`);
    const failure: AttemptFailure = {
      execute: req,
      status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: status >= 500 ? 'upstream_unavailable' : 'invalid_request' } }),
      network,
    };
    return forward(Patterns.attemptFailed, failure, body);
  }
}
