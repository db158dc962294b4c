/**
 * A seeded generator of hostile HTTP requests over every route of the router: malformed
 * and truncated JSON, wrong types, deep nesting, invalid UTF-8, percent-encoding tricks
 * and traversal in paths and model names, header floods and huge headers, bodies over the
 * limit with and without Content-Length. Pure: the same seed gives the same requests.
 */

export interface HostileRequest {
  /** What was tried, for failure messages. */
  kind: string;
  method: string;
  /** Raw request target, sent byte for byte. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
}

export interface HostileOptions {
  /** A client key the gateway accepts (used on most requests, so bodies get past the key check). */
  clientKey: string;
  /** The management secret (used on some management requests). */
  managementSecret: string;
  /** Model names that route somewhere. */
  models: string[];
  /** The gateway's body limit: some bodies go over it. */
  bodyLimitBytes: number;
}

/** Mulberry32: small, fast, good enough to pick mutations reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POST_ROUTES = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/responses',
  '/v1/messages',
  '/v1/messages/count_tokens',
] as const;
const GEMINI_ACTIONS = [
  'generateContent',
  'streamGenerateContent',
  'streamGenerateContent?alt=sse',
  'countTokens',
  'embedContent',
  '',
];
const GET_ROUTES = ['/v1/models', '/v1beta/models', '/healthz'];
const MANAGEMENT_PATHS = [
  '/config',
  '/config.yaml',
  '/api-keys',
  '/claude-api-key',
  '/gemini-api-key',
  '/codex-api-key',
  '/openai-compatibility',
  '/request-retry',
  '/routing/strategy',
  '/auth-files',
  '/auth-files/status',
  '/usage',
  '/reset-quota',
  '/max-retry-interval',
];
const MODEL_TRICKS = [
  '%25',
  '%',
  '%00',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2F..%2F',
  '%C0%AE%C0%AE%C0%AF',
  '%E0%A4%A',
  '%FF%FE',
  'models%2F..%2F..%2Fv0%2Fmanagement%2Fconfig',
  '%252e%252e',
  'a%0d%0aX-Injected:%201',
  '%u002e',
  '..',
  '.',
  '',
];
const JSON_TRICKS: (() => string)[] = [
  () => '{',
  () => '{"model": ',
  () => 'null',
  () => '[]',
  () => '"a string"',
  () => '123',
  () => '{"model": 123, "messages": "not a list"}',
  () => '{"model": "m", "messages": [{"role": 7, "content": {"deep": [1, 2]}}], "stream": "yes", "max_tokens": "lots"}',
  () => '{"model": ["array"], "contents": {"parts": null}, "input": 5}',
  () => '{"model": "m", "messages": [null, 1, "x", []], "tools": "none", "system": 42}',
  () => '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}, "model": "m"}',
  () => `{"model": "m", "messages": [{"role": "user", "content": "${'\\ud800'.repeat(8)}"}]}`,
  () => '{"model": "m",,,}',
  () => '{"model": "m"} trailing garbage',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function validBody(route: string, model: string, stream: boolean): Record<string, unknown> {
  if (route === '/v1/responses') return { model, input: 'hi', stream };
  if (route === '/v1/completions') return { model, prompt: 'hi', stream };
  if (route.startsWith('/v1/messages'))
    return { model, max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] };
  if (route.startsWith('/v1beta')) return { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
  return { model, stream, messages: [{ role: 'user', content: 'hi' }] };
}

/** A body that is hostile in one of many ways (or, now and then, valid). */
function hostileBody(
  random: () => number,
  route: string,
  model: string,
  options: HostileOptions,
): { kind: string; body: Buffer } {
  const valid = JSON.stringify(validBody(route, model, random() < 0.3));
  switch (Math.floor(random() * 9)) {
    case 0:
      return { kind: 'valid', body: Buffer.from(valid) };
    case 1:
      return { kind: 'truncated', body: Buffer.from(valid.slice(0, Math.floor(random() * valid.length))) };
    case 2:
      return { kind: 'json-trick', body: Buffer.from(pick(random, JSON_TRICKS)()) };
    case 3: {
      const depth = random() < 0.5 ? 100_000 : 5_000;
      const open = random() < 0.5 ? '[' : '{"a":';
      const close = open === '[' ? ']' : '}';
      return {
        kind: `nested-${depth}`,
        body: Buffer.from(`{"model":"${model}","messages":${open.repeat(depth)}1${close.repeat(depth)}}`),
      };
    }
    case 4: {
      // Invalid UTF-8 inside an otherwise valid body.
      const [head, tail] = [valid.slice(0, valid.length - 2), valid.slice(valid.length - 2)];
      return {
        kind: 'invalid-utf8',
        body: Buffer.concat([
          Buffer.from(head),
          Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
          Buffer.from(tail),
        ]),
      };
    }
    case 5:
      return { kind: 'over-limit', body: Buffer.alloc(options.bodyLimitBytes + 1 + Math.floor(random() * 1024), 0x20) };
    case 6:
      return { kind: 'empty', body: Buffer.alloc(0) };
    case 7:
      return { kind: 'binary', body: Buffer.from(Array.from({ length: 256 }, () => Math.floor(random() * 256))) };
    default:
      return {
        kind: 'huge-string',
        body: Buffer.from(
          JSON.stringify({
            ...validBody(route, model, false),
            model: 'x'.repeat(Math.min(options.bodyLimitBytes / 2, 30_000)),
          }),
        ),
      };
  }
}

function authHeaders(
  random: () => number,
  options: HostileOptions,
): { kind: string; headers: [string, string][]; query: string } {
  switch (Math.floor(random() * 8)) {
    case 0:
      return { kind: 'no-key', headers: [], query: '' };
    case 1:
      return { kind: 'bad-key', headers: [['authorization', 'Bearer sk-wrong-key']], query: '' };
    case 2:
      return { kind: 'query-key', headers: [], query: `key=${encodeURIComponent(options.clientKey)}` };
    case 3:
      return { kind: 'x-api-key', headers: [['x-api-key', options.clientKey]], query: '' };
    case 4:
      return {
        kind: 'weird-auth',
        headers: [
          [
            'authorization',
            pick(random, ['Bearer', 'Basic Zm9vOmJhcg==', 'Bearer  ', `bearer ${options.clientKey} extra`]),
          ],
        ],
        query: '',
      };
    default:
      return { kind: 'key', headers: [['authorization', `Bearer ${options.clientKey}`]], query: '' };
  }
}

/** Extra headers that are hostile in themselves (floods, huge values) some of the time. */
function headerTricks(random: () => number): { kind: string; headers: [string, string][] } {
  const r = random();
  if (r < 0.03)
    return {
      kind: 'header-flood',
      headers: Array.from({ length: 3_000 }, (_, i): [string, string] => [`x-flood-${i}`, 'v']),
    };
  if (r < 0.06) return { kind: 'huge-header', headers: [['x-huge', 'h'.repeat(64 * 1024)]] };
  if (r < 0.1)
    return {
      kind: 'odd-headers',
      headers: [
        ['anthropic-version', '\u00ff\u00fe'],
        ['content-type', 'text/plain'],
        ['user-agent', 'claude-cli/9.9.9 (evil)'],
        ['x-session-id', '../../x'],
      ],
    };
  return { kind: '', headers: [] };
}

/** `count` hostile requests, spread over every route. */
export function hostileRequests(count: number, seed: number, options: HostileOptions): HostileRequest[] {
  const random = seededRandom(seed);
  const out: HostileRequest[] = [];
  for (let i = 0; i < count; i++) {
    const auth = authHeaders(random, options);
    const tricks = headerTricks(random);
    const model = random() < 0.7 ? pick(random, options.models) : pick(random, MODEL_TRICKS);
    const family = random();
    let request: HostileRequest;
    if (family < 0.55) {
      const route = pick(random, POST_ROUTES);
      const body = hostileBody(random, route, model, options);
      request = {
        kind: `${route} ${body.kind}`,
        method: 'POST',
        target: route,
        headers: [['content-type', 'application/json']],
        body: body.body,
      };
    } else if (family < 0.8) {
      const action = pick(random, GEMINI_ACTIONS);
      const route = `/v1beta/models/${model}${action ? `:${action}` : ''}`;
      const body = hostileBody(random, '/v1beta', model, options);
      request = {
        kind: `gemini ${body.kind}`,
        method: 'POST',
        target: route,
        headers: [['content-type', 'application/json']],
        body: body.body,
      };
    } else if (family < 0.9) {
      const route = random() < 0.5 ? pick(random, GET_ROUTES) : `/v1beta/models/${model}`;
      request = {
        kind: `GET ${route.split('/').slice(0, 3).join('/')}`,
        method: pick(random, ['GET', 'GET', 'HEAD', 'OPTIONS', 'DELETE']),
        target: route,
        headers: [],
      };
    } else {
      const path = `/v0/management${pick(random, MANAGEMENT_PATHS)}${random() < 0.2 ? `/${pick(random, MODEL_TRICKS)}` : ''}`;
      const method = pick(random, ['GET', 'PUT', 'PATCH', 'DELETE', 'POST']);
      const body = method === 'GET' ? undefined : hostileBody(random, '/v1/chat/completions', model, options).body;
      const key: [string, string][] =
        random() < 0.3
          ? [['authorization', `Bearer ${options.managementSecret}`]]
          : random() < 0.5
            ? [['x-management-key', 'guess']]
            : [];
      request = {
        kind: `management ${method}`,
        method,
        target: path,
        headers: [['content-type', pick(random, ['application/json', 'application/yaml', 'text/plain'])], ...key],
        body,
      };
      out.push({ ...request, headers: [...request.headers, ...tricks.headers] });
      continue;
    }
    if (auth.query) request.target += `${request.target.includes('?') ? '&' : '?'}${auth.query}`;
    request.headers.push(...auth.headers, ...tricks.headers);
    if (tricks.kind) request.kind += ` ${tricks.kind}`;
    if (request.body && random() < 0.2) request.chunked = true;
    out.push(request);
  }
  return out;
}
