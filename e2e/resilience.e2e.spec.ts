/**
 * Crash and hang resistance of the real stack: hostile paths never take a gateway down, a
 * service killed mid-request costs its clients a clean error within seconds (not the
 * request deadline), and the supervisor brings the killed process back.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '@cpa/testing';
import { CLIENT_KEY, useStack } from './stack-fixture';

const MODEL = 'claude-resilience-e2e';
const UPSTREAM_KEY = 'sk-ant-resilience-0000000000000';

const { mock, stack, openai } = useStack({
  config: (upstream) => ({
    'claude-api-key': [
      { 'api-key': UPSTREAM_KEY, 'base-url': upstream.url, models: [{ name: 'claude-sonnet-4-5', alias: MODEL }] },
    ],
  }),
});

const service = (name: string) => stack.services.find((s) => s.name === name)!;

function postGemini(
  path: string,
  headers: Record<string, string> = { 'x-goog-api-key': CLIENT_KEY },
): Promise<Response> {
  return fetch(`${stack.url}/v1beta/models/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });
}

describe('hostile paths', () => {
  it('answers percent tricks in model names with a 4xx in the client format and keeps serving', async () => {
    const gateway = service('gateway');
    const pid = gateway.child.pid;
    for (const path of [
      '%25:generateContent',
      '%25%25:streamGenerateContent',
      '..%2F..%2Fetc%2Fpasswd:generateContent',
      'a%00b:countTokens',
      '%:generateContent',
      '%E0%A4%A:generateContent',
    ]) {
      for (const headers of [{ 'x-goog-api-key': CLIENT_KEY }, {} as Record<string, string>]) {
        const res = await postGemini(path, headers);
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
        expect(typeof (await res.json()), path).toBe('object');
      }
    }
    expect(gateway.child.pid).toBe(pid);
    expect(gateway.child.exitCode).toBeNull();
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it('refuses an unauthenticated request from its headers, without waiting for a body that never ends', async () => {
    const started = Date.now();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) },
      body: new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"model":')) }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Missing API key' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('a service killed mid-request', () => {
  it('costs a waiting client a clean 503 in its format within seconds, and is restarted', async () => {
    mock.setBehavior(UPSTREAM_KEY, { delayMs: 60_000 });
    const executor = service('executor-claude');
    const killedPid = executor.child.pid;
    const started = Date.now();
    const answer = openai()
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'never answered' }] })
      .then(
        () => undefined,
        (err: unknown) => err as { status?: number; message?: string },
      );
    await waitFor(() => mock.requests.length === 1, 10_000);
    executor.child.kill('SIGKILL');

    const err = await answer;
    // The idle timeout (5 s) after the last heartbeat, not the 10-minute request deadline.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err?.status).toBe(503);
    expect(err?.message).toMatch(/lost the process/);

    mock.clearBehavior(UPSTREAM_KEY);
    await waitFor(() => executor.child.pid !== killedPid, 10_000);
    const completion = await waitFor(
      () => openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'back again' }] }),
      20_000,
      250,
    );
    expect(completion.choices[0]!.message.content).toBe('echo: back again');
  });

  it("ends a started stream with the format's error event when its executor dies", async () => {
    mock.setBehavior(UPSTREAM_KEY, { chunkDelayMs: 60_000, streamChunks: 4, reply: { text: 'one two three four' } });
    const executor = service('executor-claude');
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'stream then die' }] }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('data: ');
    const started = Date.now();
    executor.child.kill('SIGKILL');
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read())
      rest += new TextDecoder().decode(next.value);
    expect(Date.now() - started).toBeLessThan(10_000);
    const last = rest.trim().split('\n\n').at(-1)!;
    expect(JSON.parse(last.replace(/^data: /, ''))).toMatchObject({
      error: { message: expect.stringMatching(/lost the process/) },
    });
    mock.clearBehavior(UPSTREAM_KEY);
    await waitFor(
      async () =>
        (await openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'after' }] }))
          .choices.length > 0,
      20_000,
      250,
    );
  });
});
