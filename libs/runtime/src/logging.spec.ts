import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { pinoHttp, type Options } from 'pino-http';
import { afterEach, describe, expect, it } from 'vitest';
import { loggingEnv, loggingParams, REDACT_PATHS } from './logging';

/** A pino-http logger with the services' options, writing its lines where the test reads them. */
function capture(pretty = false) {
  const lines: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const params = loggingParams('test-service', { level: 'trace', pretty }, sink);
  const [options, stream] = params.pinoHttp as [Options, NodeJS.WritableStream];
  return { lines, http: pinoHttp(options, stream as pino.DestinationStream) };
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(http: ReturnType<typeof capture>['http']): Promise<string> {
  server = createServer((req, res) => {
    http(req, res);
    req.log.info({ headers: req.headers, body: { api_key: 'sk-body-secret', model: 'm' } }, 'handled');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const SECRETS = ['Bearer sk-client-secret', 'sk-x-api-key-secret', 'AIza-goog-secret', 'mgmt-secret-value', 'session=cookie-secret', 'AIza-query-secret'];

describe('service logging', () => {
  it('writes JSON lines with service, level name, time and the request id on every line of a request', async () => {
    const { lines, http } = capture();
    const url = await serve(http);
    const res = await fetch(`${url}/v1/x`, { headers: { 'x-request-id': 'client-id-1' } });
    expect(res.headers.get('x-request-id')).toBe('client-id-1');
    await new Promise((r) => setTimeout(r, 20));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(2);
    for (const r of records) {
      expect(r).toMatchObject({ service: 'test-service', request_id: 'client-id-1' });
      expect(typeof r.level).toBe('string');
      expect(Number.isNaN(Date.parse(String(r.time)))).toBe(false);
    }
    expect(records.at(-1)).toMatchObject({ level: 'info', msg: 'GET /v1/x 200', res: { status: 200 } });
  });

  it('makes an id when the caller sent none or an unusable one, and answers it', async () => {
    const { lines, http } = capture();
    const url = await serve(http);
    const res = await fetch(`${url}/v1/x`, { headers: { 'x-request-id': 'has spaces "and quotes"' } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.every((l) => (JSON.parse(l) as { request_id?: string }).request_id === id)).toBe(true);
  });

  it('redacts keys in headers, query strings and bodies', async () => {
    const { lines, http } = capture();
    const url = await serve(http);
    await fetch(`${url}/v1beta/models/g:generateContent?key=AIza-query-secret&alt=sse`, {
      headers: { authorization: SECRETS[0]!, 'x-api-key': SECRETS[1]!, 'x-goog-api-key': SECRETS[2]!, 'x-management-key': SECRETS[3]!, cookie: SECRETS[4]! },
    });
    await new Promise((r) => setTimeout(r, 20));
    const text = lines.join('\n');
    expect(text).toContain('handled');
    for (const secret of [...SECRETS, 'sk-body-secret']) expect(text).not.toContain(secret);
    const handled = JSON.parse(lines.find((l) => l.includes('handled'))!) as { headers: Record<string, string>; body: Record<string, string> };
    expect(handled.headers.authorization).toBe('[Redacted]');
    expect(handled.headers['x-goog-api-key']).toBe('[Redacted]');
    expect(handled.body).toEqual({ api_key: '[Redacted]', model: 'm' });
    expect(text).toContain('key=[Redacted]&alt=sse');
  });

  it('redacts token fields at the top level and one level down', () => {
    const out: string[] = [];
    const logger = pino({ redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' } }, { write: (l: string) => out.push(l) });
    logger.info({ access_token: 'at-1', credential: { refresh_token: 'rt-1', 'secret-key': 'sk-2', label: 'ok' } }, 'tokens');
    expect(out[0]).not.toMatch(/at-1|rt-1|sk-2/);
    expect(out[0]).toContain('"label":"ok"');
  });

  it('pretty-prints for people when asked', async () => {
    const { lines, http } = capture(true);
    const url = await serve(http);
    await fetch(`${url}/v1/x`, { headers: { authorization: 'Bearer sk-pretty-secret' } });
    await new Promise((r) => setTimeout(r, 20));
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
});
