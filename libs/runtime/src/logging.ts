import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, PinoLogger, type Params } from 'nestjs-pino';
import pretty from 'pino-pretty';
import { isObservable, Observable } from 'rxjs';
import { z } from 'zod';
import { REDACTED, redactUrl, REQUEST_ID_HEADER, requestIdFor, SECRET_HEADERS } from '@cpa/contracts';

/**
 * Where secrets can sit in a log record: request and response headers (pino-http's
 * `req`/`res`, and any `headers` object logged) and credentials or token bodies at the top
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
const at = (parent: string, name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `${parent}${parent ? '.' : ''}${name}` : `${parent}["${name}"]`);

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((header) => ['req.headers', 'res.headers', 'headers', '*.headers'].map((parent) => at(parent, header))),
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
export function loggingEnv(env: NodeJS.ProcessEnv = process.env, stdoutIsTty = Boolean(process.stdout.isTTY)): LoggingEnv {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = LoggingEnvSchema.safeParse(present);
  // A bad value falls back to the defaults: loadEnv reports LOG_LEVEL; logging must come up to say so.
  const e = parsed.success ? parsed.data : LoggingEnvSchema.parse({});
  const pretty = e.LOG_FORMAT ? e.LOG_FORMAT === 'pretty' : stdoutIsTty && e.NODE_ENV !== 'production';
  return { level: e.LOG_LEVEL, pretty };
}

type Req = IncomingMessage & { id?: unknown };

/** pino-http's options for one service: level, redaction, request ids, what a request line holds. */
export function loggingParams(service: string, env: LoggingEnv = loggingEnv(), destination?: NodeJS.WritableStream): Params {
  const options = {
    level: env.level,
    base: { service, pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    // Level names ("info") rather than pino's numbers, for readers and log pipelines; pino-pretty reads numbers.
    ...(env.pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    // The request's logger carries only its id; the request itself is described once, on its completion line.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'request_id' },
    genReqId: (req: Req, res: ServerResponse) => {
      if (typeof req.id === 'string') return req.id;
      const id = requestIdFor(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    serializers: {
      req: (req: { method?: string; url?: string; headers?: Record<string, unknown>; remoteAddress?: string }) => ({
        method: req.method,
        url: redactUrl(req.url ?? ''),
        user_agent: req.headers?.['user-agent'],
        remote_address: req.remoteAddress,
      }),
      res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
    },
    // Probes and scrapes would drown the request lines.
    autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url?.startsWith('/metrics') === true },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url ?? '')} ${res.statusCode}`,
    customErrorMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url ?? '')} ${res.statusCode}`,
    // pino-http makes up an Error (with a stack) for every 5xx answer; the status already says it.
    customErrorObject: (_req: IncomingMessage, res: ServerResponse, err: Error, value: Record<string, unknown>) =>
      err.message === `failed with status code ${res.statusCode}` ? { ...value, err: undefined } : value,
  };
  // pino-pretty in-process and synchronous: development output keeps its order with the READY line.
  const stream = env.pretty ? pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: destination ?? 1 }) : destination;
  const pinoHttp = stream ? [options, stream] : options;
  return { pinoHttp: pinoHttp as Params['pinoHttp'] };
}

/**
 * Fastify names each request (middie then hands that id to pino-http as `req.id`): the
 * caller's acceptable `x-request-id`, else a new one (FastifyAdapter's `genReqId`).
 */
export function fastifyRequestId(req: IncomingMessage): string {
  return requestIdFor(req.headers[REQUEST_ID_HEADER]);
}

/** Every answer carries its request id, also those written to the raw response (proxy routes, streams). */
export function answerRequestIds(fastify: { addHook(name: 'onRequest', hook: (request: { id: string }, reply: { raw: ServerResponse }, done: () => void) => void): unknown }): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.raw.setHeader(REQUEST_ID_HEADER, request.id);
    done();
  });
}

/** The app's own module with the logger beside it (bootstrapService wraps every service's module in it). */
export function withLogging(module: unknown, service: string): DynamicModule {
  const params = loggingParams(service);
  contextLogger = new PinoLogger(params);
  @Module({})
  class LoggingRoot {}
  return { module: LoggingRoot, imports: [LoggerModule.forRoot(params), module as DynamicModule] };
}

let contextLogger: PinoLogger | undefined;

/**
 * Runs a transport handler so that every log line it causes (also after awaits, and while
 * a returned stream is read) carries `request_id`. The gateway's HTTP requests get theirs
 * from the logging middleware; scheduler and executors call this with the id the request
 * message carries.
 */
export function withRequestId<T>(requestId: string | undefined, fn: () => T): T {
  if (requestId === undefined || contextLogger === undefined) return fn();
  const logger = contextLogger;
  const run = <R>(f: () => R): R => logger.runInContext(f, { bindings: { request_id: requestId } });
  const bind = (value: unknown): unknown => (isObservable(value) ? new Observable((subscriber) => run(() => value.subscribe(subscriber))) : value);
  const result = run(fn);
  if (result instanceof Promise) return result.then(bind) as T;
  return bind(result) as T;
}
