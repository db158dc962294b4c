import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createServiceLogger,
  fastifyRequestId,
  loggingEnv,
  logRequests,
  REDACT_PATHS,
  requestLineLevel,
  type LoggingEnv,
} from './logging';

/** A Fastify server as bootstrapService sets it up (request ids, request logging), logging where the test reads. */
async function serve(env: LoggingEnv = { level: 'trace', pretty: false }) {
  const lines: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const logger = createServiceLogger('test-service', env, sink);
  const fastify = Fastify({ genReqId: fastifyRequestId });
  logRequests(fastify, logger);
  fastify.get('/*', async (request) => {
    // The request id reaches lines written after an await, with no logger handed down.
    await new Promise((resolve) => setTimeout(resolve, 1));
    logger.info({ headers: request.headers, body: { api_key: 'sk-body-secret', model: 'm' } }, 'handled');
    return 'ok';
  });
  fastify.get('/healthz', async () => 'ok');
  fastify.get('/missing', async (_request, reply) => reply.code(404).send('no'));
  fastify.get('/broken', async (_request, reply) => reply.code(502).send('bad'));
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  servers.push(fastify);
  const address = fastify.server.address() as { port: number };
  const settled = () => new Promise((resolve) => setTimeout(resolve, 20));
  return {
    lines,
    url: `http://127.0.0.1:${address.port}`,
    logger,
    settled,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const servers: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SECRETS = [
  'Bearer sk-client-secret',
  'sk-x-api-key-secret',
  'AIza-goog-secret',
  'mgmt-secret-value',
  'session=cookie-secret',
  'AIza-query-secret',
];

describe('service logging', () => {
  it('writes JSON lines with service, level name, time and the request id on every line of a request', async () => {
    const { url, records, settled } = await serve();
    const res = await fetch(`${url}/v1/x`, { headers: { 'x-request-id': 'client-id-1', 'user-agent': 'test-agent' } });
    expect(res.headers.get('x-request-id')).toBe('client-id-1');
    await settled();
    const lines = records();
    expect(lines).toHaveLength(2);
    for (const r of lines) {
      expect(r).toMatchObject({ service: 'test-service', request_id: 'client-id-1' });
      expect(typeof r.level).toBe('string');
      expect(Number.isNaN(Date.parse(String(r.time)))).toBe(false);
    }
    expect(lines[1]).toMatchObject({
      level: 'info',
      msg: 'GET /v1/x 200',
      res: { status: 200 },
      req: { method: 'GET', url: '/v1/x', user_agent: 'test-agent', remote_address: '127.0.0.1' },
    });
    expect(typeof lines[1]!.responseTime).toBe('number');
  });

  it('makes an id when the caller sent none or an unusable one, and answers it', async () => {
    const { url, lines, settled } = await serve();
    const res = await fetch(`${url}/v1/x`, { headers: { 'x-request-id': 'has spaces "and quotes"' } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await settled();
    expect(lines.length).toBe(2);
    expect(lines.every((l) => (JSON.parse(l) as { request_id?: string }).request_id === id)).toBe(true);
  });

  it('writes no request id outside a request, and none of another request', async () => {
    const { url, logger, records, settled } = await serve();
    await Promise.all([
      fetch(`${url}/v1/a`, { headers: { 'x-request-id': 'id-a' } }),
      fetch(`${url}/v1/b`, { headers: { 'x-request-id': 'id-b' } }),
    ]);
    logger.info('outside');
    await settled();
    const lines = records();
    expect(lines.find((r) => r.msg === 'outside')).not.toHaveProperty('request_id');
    expect(lines.filter((r) => r.request_id === 'id-a').map((r) => r.msg)).toEqual(['handled', 'GET /v1/a 200']);
    expect(lines.filter((r) => r.request_id === 'id-b').map((r) => r.msg)).toEqual(['handled', 'GET /v1/b 200']);
  });

  it('logs 4xx at warn and 5xx at error, leaves probes out, and writes only the lines its level lets through', async () => {
    const { url, records, settled } = await serve();
    await fetch(`${url}/missing`);
    await fetch(`${url}/broken`);
    await fetch(`${url}/healthz`);
    await settled();
    expect(records().map((r) => [r.level, r.msg])).toEqual([
      ['warn', 'GET /missing 404'],
      ['error', 'GET /broken 502'],
    ]);

    const quiet = await serve({ level: 'warn', pretty: false });
    const res = await fetch(`${quiet.url}/v1/x`, { headers: { 'x-request-id': 'quiet-1' } });
    expect(res.headers.get('x-request-id')).toBe('quiet-1');
    await fetch(`${quiet.url}/missing`);
    await quiet.settled();
    expect(quiet.records().map((r) => r.msg)).toEqual(['GET /missing 404']);
  });

  it('redacts keys in headers, query strings and bodies', async () => {
    const { url, lines, settled } = await serve();
    await fetch(`${url}/v1beta/models/g:generateContent?key=AIza-query-secret&alt=sse`, {
      headers: {
        authorization: SECRETS[0]!,
        'x-api-key': SECRETS[1]!,
        'x-goog-api-key': SECRETS[2]!,
        'x-management-key': SECRETS[3]!,
        cookie: SECRETS[4]!,
      },
    });
    await settled();
    const text = lines.join('\n');
    expect(text).toContain('handled');
    for (const secret of [...SECRETS, 'sk-body-secret']) expect(text).not.toContain(secret);
    const handled = JSON.parse(lines.find((l) => l.includes('handled'))!) as {
      headers: Record<string, string>;
      body: Record<string, string>;
    };
    expect(handled.headers.authorization).toBe('[Redacted]');
    expect(handled.headers['x-goog-api-key']).toBe('[Redacted]');
    expect(handled.body).toEqual({ api_key: '[Redacted]', model: 'm' });
    expect(text).toContain('key=[Redacted]&alt=sse');
  });

  it('redacts token fields at the top level and one level down', () => {
    const out: string[] = [];
    const logger = pino(
      { redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' } },
      { write: (l: string) => out.push(l) },
    );
    logger.info(
      { access_token: 'at-1', credential: { refresh_token: 'rt-1', 'secret-key': 'sk-2', label: 'ok' } },
      'tokens',
    );
    expect(out[0]).not.toMatch(/at-1|rt-1|sk-2/);
    expect(out[0]).toContain('"label":"ok"');
  });

  it('pretty-prints for people when asked', async () => {
    const { url, lines, settled } = await serve({ level: 'trace', pretty: true });
    await fetch(`${url}/v1/x`, { headers: { authorization: 'Bearer sk-pretty-secret' } });
    await settled();
    expect(lines.join('\n')).toMatch(/INFO.*handled/);
    expect(lines[0]!.startsWith('{')).toBe(false);
    expect(lines.join('\n')).not.toContain('sk-pretty-secret');
  });

  it('chooses the format from LOG_FORMAT, else a terminal outside production', () => {
    expect(loggingEnv({ LOG_FORMAT: 'json' }, true).pretty).toBe(false);
    expect(loggingEnv({ LOG_FORMAT: 'pretty', NODE_ENV: 'production' }, false).pretty).toBe(true);
    expect(loggingEnv({}, true).pretty).toBe(true);
    expect(loggingEnv({ NODE_ENV: 'production' }, true).pretty).toBe(false);
    expect(loggingEnv({}, false)).toEqual({ level: 'info', pretty: false });
    expect(loggingEnv({ LOG_LEVEL: 'debug' }, false).level).toBe('debug');
  });

  it('picks the request line level from the status', () => {
    expect([200, 302, 400, 429, 499, 500, 503].map(requestLineLevel)).toEqual([
      'info',
      'info',
      'warn',
      'warn',
      'warn',
      'error',
      'error',
    ]);
  });
});
