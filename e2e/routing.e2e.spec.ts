/**
 * Routing parity through the real gateway, scheduler and executors (issue 3 items 7-11):
 * failover, cooldowns, model_cooldown exhaustion, invalid-request passthrough, streaming
 * retries before the first byte, reset-quota, and alias pools. Each scenario uses an openai-compatibility
 * provider of its own, so the cooldowns one scenario causes never reach another.
 */
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { keyPreview } from '@cpa/db';
import { waitFor } from '@cpa/testing';
import { CLIENT_KEY, useStack } from './stack-fixture';

/** Keys of at least 20 characters, so their label (keyPreview) tells them apart. */
const key = (scenario: string, name: string) => `${scenario}-key-000000000000-${name}`;
const SCENARIOS = {
  fo: ['a', 'b', 'c', 'd'],
  cd: ['a', 'b'],
  inv: ['a', 'b'],
  st: ['a', 'b', 'c'],
  sf: ['a', 'b'],
  pr: ['a', 'b'],
  pf: ['a', 'b'],
  pa: ['a', 'b'],
} as const;
type Scenario = keyof typeof SCENARIOS;
const keysOf = (s: Scenario) => SCENARIOS[s].map((n) => key(s, n));
const modelOf = (s: Scenario) => `m-${s}`;
/** Scenarios whose alias is a pool of two upstream models on every key. */
const POOLED: readonly Scenario[] = ['pr', 'pf', 'pa'];
const poolOf = (s: Scenario) => [`upstream-${s}-1`, `upstream-${s}-2`];
const modelsOf = (s: Scenario) =>
  (POOLED.includes(s) ? poolOf(s) : [`upstream-${s}`]).map((name) => ({ name, alias: modelOf(s) }));

const { mock, stack, openai, management } = useStack({
  config: (upstream) => ({
    'openai-compatibility': (Object.keys(SCENARIOS) as Scenario[]).map((s) => ({
      name: s,
      'base-url': `${upstream.url}/v1`,
      'api-key-entries': keysOf(s).map((k) => ({ 'api-key': k })),
      models: modelsOf(s),
    })),
  }),
  env: () => ({ STATE_MIRROR_MS: '50' }),
});

const chat = (s: Scenario, content = 'hello routing') =>
  openai().chat.completions.create({ model: modelOf(s), messages: [{ role: 'user', content }] });
const postChat = (s: Scenario, extra: Record<string, unknown> = {}) =>
  fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: modelOf(s), messages: [{ role: 'user', content: 'raw request' }], ...extra }),
  });

describe('failover', () => {
  it('moves past 429, 401 and 500 keys to the healthy one and then keeps away from the cooling keys', async () => {
    const [limited, unauthorized, broken, healthy] = keysOf('fo');
    mock.setBehavior(limited!, { status: 429, retryAfterSeconds: 600 });
    mock.setBehavior(unauthorized!, { status: 401 });
    mock.setBehavior(broken!, { status: 500 });
    const failing = [limited!, unauthorized!, broken!];
    // Every request succeeds on the healthy key, whichever key the rotation starts with.
    for (let i = 0; i < 10 && failing.some((k) => !mock.countByKey()[k]); i++) {
      const completion = await chat('fo', `fail over please ${i}`);
      expect(completion.choices[0]!.message.content).toContain(`fail over please ${i}`);
      expect(mock.requests.at(-1)!.apiKey).toBe(healthy);
    }
    // Each failing key was tried exactly once: after its failure it cools.
    for (const k of failing) expect(mock.countByKey()[k]).toBe(1);
    expect(mock.requests.every((r) => (r.body as { model: string }).model === 'upstream-fo')).toBe(true);

    mock.reset();
    for (let i = 0; i < 3; i++) await chat('fo', `after cooldown ${i}`);
    expect(mock.countByKey()).toEqual({ [healthy!]: 3 });
  });
});

describe('exhaustion and reset-quota', () => {
  it('returns the last upstream 429, then model_cooldown with Retry-After without calling upstream, until reset-quota', async () => {
    const [a, b] = keysOf('cd');
    for (const k of [a!, b!]) mock.setBehavior(k, { status: 429, retryAfterSeconds: 120 });

    const first = await postChat('cd');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('120');
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    expect(mock.countByKey()).toEqual({ [a!]: 1, [b!]: 1 });

    mock.reset();
    const cooling = await postChat('cd');
    expect(cooling.status).toBe(429);
    expect(cooling.headers.get('content-type')).toContain('application/json');
    const retryAfter = Number(cooling.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(100);
    expect(retryAfter).toBeLessThanOrEqual(120);
    const body = (await cooling.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({
      code: 'model_cooldown',
      message: 'All credentials for model m-cd are cooling down via provider cd',
      model: 'm-cd',
      provider: 'cd',
      reset_seconds: retryAfter,
    });
    expect(body.error.reset_time).toMatch(/^\dm\d+s$/);
    expect(mock.requests).toHaveLength(0);

    // The mirror shows the cooldown to the admin; reset-quota clears it for every replica.
    const label = keyPreview(a!);
    let authIndex = '';
    await waitFor(async () => {
      const files = (
        (await (await management('/auth-files')).json()) as {
          files: { auth_index: string; label: string; status: string; next_retry_after?: string }[];
        }
      ).files;
      const row = files.find((f) => f.label === label);
      authIndex = row?.auth_index ?? '';
      return row?.status === 'error' && row.next_retry_after !== undefined;
    }, 5_000);
    const reset = await management('/reset-quota', { method: 'POST', body: JSON.stringify({ auth_index: authIndex }) });
    expect(reset.status).toBe(200);
    mock.reset();
    await waitFor(async () => (await postChat('cd')).status === 200, 5_000);
    expect(mock.countByKey()).toEqual({ [a!]: 1 });
  });
});

describe('request-shaped errors', () => {
  it('returns an invalid_request_error as is, without failover or cooldown', async () => {
    const upstreamBody = {
      error: {
        message: "Invalid 'messages': empty array.",
        type: 'invalid_request_error',
        param: 'messages',
        code: null,
      },
    };
    for (const k of keysOf('inv')) mock.setBehavior(k, { status: 400, body: upstreamBody });
    for (let i = 0; i < 2; i++) {
      const res = await postChat('inv');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(upstreamBody);
    }
    // One upstream call per request, and both keys still take turns (nothing is cooling).
    expect(Object.values(mock.countByKey()).sort()).toEqual([1, 1]);
  });
});

describe('streaming', () => {
  it('retries a stream on another key when the upstream fails or closes before the first byte', async () => {
    const [closes, empty, healthy] = keysOf('st');
    mock.setBehavior(closes!, { closeBeforeFirstByte: true });
    mock.setBehavior(empty!, { emptyStream: true });
    for (let i = 0; i < 3; i++) {
      const stream = await openai().chat.completions.create({
        model: modelOf('st'),
        messages: [{ role: 'user', content: `stream number ${i}` }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toContain(`stream number ${i}`);
    }
    expect(mock.countByKey()[healthy!]).toBe(3);
  });

  it('answers a real HTTP error status, not a 200 stream, when every key fails before the first byte', async () => {
    const [a, b] = keysOf('sf');
    mock.setBehavior(a!, { status: 500 });
    mock.setBehavior(b!, { status: 500 });
    const res = await postChat('sf', { stream: true });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(mock.countByKey()).toEqual({ [a!]: 1, [b!]: 1 });

    const err = await openai()
      .chat.completions.create({ model: modelOf('sf'), messages: [{ role: 'user', content: 'x' }], stream: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBeGreaterThanOrEqual(500);
  });
});

describe('alias pools', () => {
  /** What the mock saw, as "<key>/<upstream model>". */
  const seen = () => mock.requests.map((r) => `${r.apiKey}/${(r.body as { model: string }).model}`);

  it('rotates the starting model of the pool per request on each key', async () => {
    const [a, b] = keysOf('pr');
    const [x, y] = poolOf('pr');
    for (let i = 0; i < 6; i++)
      expect((await chat('pr', `pool rotation ${i}`)).choices[0]!.message.content).toContain(`pool rotation ${i}`);
    const first = mock.requests[0]!.apiKey;
    const second = first === a ? b : a;
    expect(seen()).toEqual([
      `${first}/${x}`,
      `${second}/${x}`,
      `${first}/${y}`,
      `${second}/${y}`,
      `${first}/${x}`,
      `${second}/${x}`,
    ]);
  });

  it('tries the next model of the pool on the same key before another key, then skips the cooling model', async () => {
    const [a, b] = keysOf('pf');
    const [x, y] = poolOf('pf');
    for (const k of [a!, b!]) mock.setBehavior(k, { status: 500, failTimes: 1 });
    for (let i = 0; i < 6; i++)
      expect((await chat('pf', `pool failover ${i}`)).choices[0]!.message.content).toContain(`pool failover ${i}`);
    const first = mock.requests[0]!.apiKey;
    const second = first === a ? b : a;
    // x fails once per key and then cools for a minute: later requests use y wherever the rotation starts.
    expect(seen()).toEqual([
      `${first}/${x}`,
      `${first}/${y}`,
      `${second}/${x}`,
      `${second}/${y}`,
      `${first}/${y}`,
      `${second}/${y}`,
      `${first}/${y}`,
      `${second}/${y}`,
    ]);
  });

  it('moves to another key only when every model of the pool failed on the first', async () => {
    const [broken, healthy] = keysOf('pa');
    const [x, y] = poolOf('pa');
    mock.setBehavior(broken!, { status: 500 });
    for (let i = 0; i < 3 && !mock.countByKey()[broken!]; i++) await chat('pa', `pool spent ${i}`);
    const calls = seen();
    const at = calls.indexOf(`${broken}/${x}`);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(calls[at + 1]).toBe(`${broken}/${y}`);
    expect(calls[at + 2]).toMatch(new RegExp(`^${healthy}/`));
    expect(mock.countByKey()[broken!]).toBe(2);

    // Both models of the broken key cool: it is left alone while the healthy key rotates its pool.
    mock.reset();
    for (let i = 0; i < 4; i++) await chat('pa', `after the pool cooled ${i}`);
    expect(mock.countByKey()).toEqual({ [healthy!]: 4 });
    expect(new Set(seen())).toEqual(new Set([`${healthy}/${x}`, `${healthy}/${y}`]));
  });
});
