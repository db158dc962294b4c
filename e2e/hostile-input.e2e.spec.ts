/**
 * Hostile input against the real stack: over ten thousand generated requests on every
 * route (client API, model lists, management), then upstreams that answer garbage,
 * endless lines or close mid-event. Nothing may exit, hang, answer 5xx of its own making
 * (503 for an unreachable dependency aside), or print a secret.
 */
import { describe, expect, it } from 'vitest';
import { hostileRequests, sendAll, sendRaw, type RawOutcome } from '@cpa/testing';
import { CLIENT_KEY, MANAGEMENT_SECRET, useStack } from './stack-fixture';

const BODY_LIMIT = 64 * 1024;
const UPSTREAM_KEYS = {
  claude: 'sk-ant-hostile-upstream-0001',
  openai: 'sk-hostile-upstream-openai-0002',
  gemini: 'AIza-hostile-upstream-0003',
};
const MODELS = ['hostile-claude', 'hostile-gpt', 'hostile-gemini'];
const REQUESTS = 10_500;

const { mock, stack } = useStack({
  config: (upstream) => ({
    // Garbage answers would otherwise cool the only credential of each model down for a minute.
    'disable-cooling': true,
    'claude-api-key': [
      {
        'api-key': UPSTREAM_KEYS.claude,
        'base-url': upstream.url,
        models: [{ name: 'claude-sonnet-4-5', alias: 'hostile-claude' }],
      },
    ],
    'gemini-api-key': [
      {
        'api-key': UPSTREAM_KEYS.gemini,
        'base-url': upstream.url,
        models: [{ name: 'gemini-2.5-pro', alias: 'hostile-gemini' }],
      },
    ],
    'openai-compatibility': [
      {
        name: 'hostile',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': UPSTREAM_KEYS.openai }],
        models: [{ name: 'gpt-4o-mini', alias: 'hostile-gpt' }],
      },
    ],
  }),
  env: () => ({ BODY_LIMIT_BYTES: String(BODY_LIMIT), LOG_LEVEL: 'debug' }),
  families: ['claude', 'gemini', 'openai-compat'],
});

const port = () => Number(new URL(stack.url).port);

/** The processes as they were at the start: none may have exited or been replaced since. */
function pids(): Record<string, number | undefined> {
  return Object.fromEntries(stack.services.map((s, i) => [`${s.name}#${i}`, s.child.pid]));
}

function summarize(outcomes: RawOutcome[], kinds: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  outcomes.forEach((o, i) => {
    const key = o.hung ? 'hung' : o.reset ? 'reset' : String(o.status ?? 'none');
    counts[key] = (counts[key] ?? 0) + 1;
    if (o.hung || (o.status !== undefined && o.status >= 500 && o.status !== 503))
      counts[`${key} ${kinds[i]}`] = (counts[`${key} ${kinds[i]}`] ?? 0) + 1;
  });
  return counts;
}

describe('generated hostile requests', () => {
  it(`${REQUESTS} requests over every route: no exit, no hang, no 5xx of the gateway's own, no secret in any log`, async () => {
    const before = pids();
    const requests = hostileRequests(REQUESTS, 20261130, {
      clientKey: CLIENT_KEY,
      managementSecret: MANAGEMENT_SECRET,
      models: MODELS,
      bodyLimitBytes: BODY_LIMIT,
    });
    expect(new Set(requests.map((r) => r.kind.split(' ')[0])).size).toBeGreaterThanOrEqual(8);
    const outcomes = await sendAll(port(), requests, 32, 30_000);
    const counts = summarize(
      outcomes,
      requests.map((r) => r.kind),
    );

    expect(
      outcomes.filter((o) => o.hung),
      JSON.stringify(counts),
    ).toHaveLength(0);
    const ownFailures = outcomes.flatMap((o, i) =>
      o.status !== undefined && o.status >= 500 && o.status !== 503
        ? [`${o.status} ${requests[i]!.kind}: ${o.head}`]
        : [],
    );
    expect(ownFailures.slice(0, 5), JSON.stringify(counts)).toEqual([]);
    // Most requests are answered (a refused connection is a legitimate answer to a flood, but not the usual one).
    expect(outcomes.filter((o) => o.status !== undefined).length).toBeGreaterThan(REQUESTS * 0.95);
    // Some valid requests got through to the upstream and back.
    expect(counts['200']).toBeGreaterThan(100);

    expect(pids()).toEqual(before);
    for (const s of stack.services) expect(s.child.exitCode, s.name).toBeNull();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hostile-gpt', messages: [{ role: 'user', content: 'still here' }] }),
    });
    expect(res.status).toBe(200);

    const secrets = [CLIENT_KEY, MANAGEMENT_SECRET, ...Object.values(UPSTREAM_KEYS)];
    const leaks = stack.logs.filter((line) => secrets.some((secret) => line.includes(secret)));
    expect(leaks.slice(0, 3)).toEqual([]);
    expect(stack.logs.length).toBeGreaterThan(0);
  }, 300_000);

  it('slow senders and a body over the limit without Content-Length get answers, not held sockets', async () => {
    const slow = Array.from({ length: 20 }, () =>
      sendRaw(
        port(),
        {
          kind: 'slow',
          method: 'POST',
          target: '/v1/chat/completions',
          headers: [
            ['authorization', `Bearer ${CLIENT_KEY}`],
            ['content-type', 'application/json'],
          ],
          body: Buffer.alloc(BODY_LIMIT * 3, 0x20),
          chunked: true,
        },
        20_000,
      ),
    );
    const outcomes = await Promise.all(slow);
    for (const o of outcomes) {
      expect(o.hung).toBeFalsy();
      if (o.status !== undefined) expect(o.status).toBe(413);
    }
  });
});

describe('hostile upstreams', () => {
  const ask = (model: string, stream: boolean) =>
    fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
      signal: AbortSignal.timeout(30_000),
    });

  it('garbage bodies, endless lines and streams cut mid-event end in clean errors, and every process lives', async () => {
    const before = pids();
    const behaviors = [
      { status: 200, body: 'this is not json {{{' },
      { status: 200, headers: { 'content-type': 'text/event-stream' }, body: `data: ${'x'.repeat(512 * 1024)}` },
      {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: 'data: {"choices":[{"delta":{"content":"a"',
      },
      { status: 200, headers: { 'content-type': 'application/json' }, body: '\u0000\u0001\u0002' },
      { closeMidStream: true },
      { closeBeforeFirstByte: true },
    ];
    for (const behavior of behaviors) {
      for (const key of Object.values(UPSTREAM_KEYS)) mock.setBehavior(key, behavior);
      for (const model of MODELS) {
        for (const stream of [false, true]) {
          const res = await ask(model, stream);
          const text = await res.text();
          // Either an error status in the client's format, or a started stream that ends with an error event.
          if (res.status === 200)
            expect(text.length, `${model} ${JSON.stringify(behavior).slice(0, 60)}`).toBeGreaterThan(0);
          else expect(res.status).toBeGreaterThanOrEqual(400);
        }
      }
    }
    expect(pids()).toEqual(before);
    mock.reset();
    expect((await ask('hostile-claude', false)).status).toBe(200);
  }, 120_000);
});
