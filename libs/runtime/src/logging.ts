import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, type PinoLogger as NestPinoLoggerTarget } from 'nestjs-pino';
import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { isObservable, Observable } from 'rxjs';
import { z } from 'zod';
import { REDACTED, redactUrl, REQUEST_ID_HEADER, requestIdFor, SECRET_HEADERS } from '@cpa/contracts';

/**
 * Where secrets can sit in a log record: request and response headers (`req`/`res`, and
 * any `headers` object logged) and credentials or token bodies at the top
 * level or one level down. Values become `[Redacted]`; the key stays, so a reader sees
 * that it was there.
 */
const SECRET_FIELDS = [
  'api_key',
  'apiKey',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'client_secret',
  'secret',
  'secret-key',
  'password',
  'token',
  'key',
];

/** `parent.name`, or `parent["name"]` for a name that is not an identifier (redaction path syntax). */
const at = (parent: string, name: string) =>
  /^[A-Za-z_$][\w$]*$/.test(name) ? `${parent}${parent ? '.' : ''}${name}` : `${parent}["${name}"]`;

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((header) =>
    ['req.headers', 'res.headers', 'headers', '*.headers'].map((parent) => at(parent, header)),
  ),
  ...SECRET_FIELDS.flatMap((field) => [at('', field), at('*', field)]),
];

const LoggingEnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export interface LoggingEnv {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Human-readable lines instead of JSON. */
  pretty: boolean;
}

/**
 * LOG_FORMAT=json|pretty decides; without it, lines are pretty only on an interactive
 * terminal outside production, so piped output (supervisors, containers, tests) is JSON.
 */
export function loggingEnv(
  env: NodeJS.ProcessEnv = process.env,
  stdoutIsTty = Boolean(process.stdout.isTTY),
): LoggingEnv {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = LoggingEnvSchema.safeParse(present);
  // A bad value falls back to the defaults: loadEnv reports LOG_LEVEL; logging must come up to say so.
  const e = parsed.success ? parsed.data : LoggingEnvSchema.parse({});
  const pretty = e.LOG_FORMAT ? e.LOG_FORMAT === 'pretty' : stdoutIsTty && e.NODE_ENV !== 'production';
  return { level: e.LOG_LEVEL, pretty };
}

/**
 * The request the running code serves: set around each HTTP request (`logRequests`) and
 * each transport handler (`withRequestId`), and written on every line logged meanwhile as
 * `request_id` by the loggers' mixin. Only the id is kept per request, not a child logger:
 * pino serialises and redacts a child's bindings when it is made, which cost the gateway
 * about a tenth of its CPU per request (two children each) and the scheduler and executors
 * one each, for lines that were mostly never written.
 */
const requestIds = new AsyncLocalStorage<string>();

/** pino's options for one service: level, redaction, and the request id on every line written inside a request. */
export function serviceLoggerOptions(service: string, env: LoggingEnv): LoggerOptions {
  return {
    level: env.level,
    base: { service, pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    // Level names ("info") rather than pino's numbers, for readers and log pipelines; pino-pretty reads numbers.
    ...(env.pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    // A new object per line (pino merges the line's fields into it); no id outside a request (undefined is left out).
    mixin: () => ({ request_id: requestIds.getStore() }),
  };
}

/** A service's root logger: JSON lines to stdout (or `destination`), pretty ones when `env.pretty`. */
export function createServiceLogger(
  service: string,
  env: LoggingEnv = loggingEnv(),
  destination?: NodeJS.WritableStream,
): PinoLogger {
  const options = serviceLoggerOptions(service, env);
  // pino-pretty in-process and synchronous: development output keeps its order with the READY line.
  const stream = env.pretty
    ? pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: destination ?? 1 })
    : destination;
  return stream ? pino(options, stream as DestinationStream) : pino(options);
}

/** Nest's logger over the service's root logger, so every `new Logger(context)` call is a JSON line with `context`. */
export function nestLoggerOf(logger: PinoLogger): LoggerService {
  // nestjs-pino's Logger maps Nest's call shapes (context last, Nest's exception handlers' stack argument)
  // onto trace/debug/info/warn/error/fatal of the logger it is given, which a pino logger has.
  return new NestPinoLogger(logger as unknown as NestPinoLoggerTarget, {});
}

/**
 * Fastify names each request: the caller's acceptable `x-request-id`, else a new one
 * (FastifyAdapter's `genReqId`).
 */
export function fastifyRequestId(req: IncomingMessage): string {
  return requestIdFor(req.headers[REQUEST_ID_HEADER]);
}

export type RequestLineLevel = 'info' | 'warn' | 'error';

/** A request's closing line: `error` for a 5xx, `warn` for a 4xx, `info` otherwise. */
export function requestLineLevel(status: number): RequestLineLevel {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

/** Probes and scrapes would drown the request lines. */
function quietUrl(url: string): boolean {
  return url === '/healthz' || url.startsWith('/metrics');
}

interface RequestHooks {
  addHook(
    name: 'onRequest',
    hook: (request: { id: string; raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void,
  ): unknown;
}

/**
 * Every HTTP request: answers its id as `x-request-id` (on the raw response, since the
 * proxy routes and streams write it themselves), runs in its id's logging context, and
 * gets one line when its response closes (`POST /v1/chat/completions 200` with method,
 * redacted URL, user agent, remote address, status, `responseTime` in ms, and `aborted`
 * when the connection closed before the answer ended), unless `logger`'s level leaves
 * that line out or it is a probe or a scrape.
 */
export function logRequests(fastify: RequestHooks, logger: PinoLogger): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const res = reply.raw;
    res.setHeader(REQUEST_ID_HEADER, request.id);
    const req = request.raw;
    const url = req.url ?? '';
    if (logger.isLevelEnabled('error') && !quietUrl(url)) {
      const started = Date.now();
      const remoteAddress = req.socket?.remoteAddress;
      res.once('close', () => {
        const status = res.statusCode;
        const level = requestLineLevel(status);
        if (!logger.isLevelEnabled(level)) return;
        const redacted = redactUrl(url);
        logger[level](
          {
            request_id: request.id,
            req: {
              method: req.method,
              url: redacted,
              user_agent: req.headers['user-agent'],
              remote_address: remoteAddress,
            },
            res: { status },
            responseTime: Date.now() - started,
            ...(!res.writableFinished && { aborted: true }),
          },
          `${req.method} ${redacted} ${status}`,
        );
      });
    }
    requestIds.run(request.id, done);
  });
}

/**
 * Runs a transport handler so that every log line it causes (also after awaits, and while
 * a returned stream is read) carries `request_id`. HTTP requests get theirs from
 * `logRequests`; scheduler and executors call this with the id the request message carries.
 */
export function withRequestId<T>(requestId: string | undefined, fn: () => T): T {
  if (requestId === undefined) return fn();
  const bind = (value: unknown): unknown =>
    isObservable(value)
      ? new Observable((subscriber) => requestIds.run(requestId, () => value.subscribe(subscriber)))
      : value;
  const result = requestIds.run(requestId, fn);
  if (result instanceof Promise) return result.then(bind) as T;
  return bind(result) as T;
}
