import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@cpa/testing';
import { CLIENT_KEY, PROPAGATION_MS, TWO_OF_EACH, useStack } from './stack-fixture';

const CLAUDE_KEYS = ['claude-key-a', 'claude-key-b'];
const COMPAT_KEYS = ['compat-key-a', 'compat-key-b'];

const { mock, stack, openai, anthropic, management, onEveryGateway } = useStack({
  families: ['claude', 'openai-compat'],
  config: (upstream) => ({
    'claude-api-key': CLAUDE_KEYS.map((key) => ({ 'api-key': key, 'base-url': upstream.url })),
    'openai-compatibility': [
      {
        name: 'mock-openai',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': COMPAT_KEYS.map((key) => ({ 'api-key': key })),
        models: [
          { name: 'gpt-4o-mini', alias: 'gpt-4o-mini' },
          { name: 'gpt-4o-mini', alias: 'team-model' },
        ],
      },
    ],
  }),
  env: () => ({ ...TWO_OF_EACH, BODY_LIMIT_BYTES: String(256 * 1024) }),
});

describe('OpenAI chat completions through the gateway', () => {
  it('answers a non-streamed request from an openai-compat credential', async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there gateway' }],
    });
    expect(completion.choices[0].message.content).toContain('hello there gateway');
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
    const [upstream] = mock.requests;
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(COMPAT_KEYS).toContain(upstream.apiKey);
    expect((upstream.body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('relays a stream chunk by chunk and ends it', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me four words' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toContain('stream me four words');
    expect(finish).toBe('stop');
  });

  it('sends the upstream name of an aliased model', async () => {
    await openai().chat.completions.create({ model: 'team-model', messages: [{ role: 'user', content: 'alias' }] });
    expect((mock.requests[0].body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it("passes a coding agent's 100 KB turn to the upstream byte for byte, only the aliased model renamed", async () => {
    // Spacing, key order and escapes as a client wrote them: the body travels by reference and is never re-serialised.
    const turn = (model: string) =>
      `{ "model" : ${JSON.stringify(model)}, "messages": [{"role":"system","content":"Be brief.\\u00e9"},` +
      Array.from(
        { length: 400 },
        (_, i) =>
          `{"role":"tool","tool_call_id":"call_${i}","content":"line ${i}: \\"quoted\\" \\\\ path — ü ${'x'.repeat(200)}"}`,
      ).join(',') +
      `,{"role":"user","content":"and now?"}],"stream":false,  "temperature": 0.5 }`;
    const body = turn('team-model');
    expect(Buffer.byteLength(body)).toBeGreaterThan(90 * 1024);
    for (const gateway of stack.urls) {
      const res = await fetch(`${gateway}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
        body,
      });
      expect(res.status).toBe(200);
      expect(
        ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content,
      ).toContain('and now?');
      expect(mock.requests.at(-1)!.rawBody).toBe(turn('gpt-4o-mini'));
    }
  });

  it('rotates round-robin over the two keys of a provider', async () => {
    for (let i = 0; i < 4; i++) {
      await openai().chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `turn ${i}` }],
      });
    }
    expect(mock.countByKey()).toEqual({ [COMPAT_KEYS[0]]: 2, [COMPAT_KEYS[1]]: 2 });
  });
});

describe('Anthropic messages through the gateway', () => {
  it('answers a non-streamed message from a claude credential', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi claude' }],
    });
    const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    expect(text).toContain('hi claude');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(CLAUDE_KEYS).toContain(mock.requests[0].apiKey);
    expect(mock.requests[0].headers['anthropic-version']).toBeDefined();
  });

  it('streams a message that the SDK assembles', async () => {
    const stream = anthropic().messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'stream claude please' }],
    });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toContain('stream claude please');
    expect(final.stop_reason).toBe('end_turn');
  });

  it('spreads requests over both claude keys', async () => {
    for (let i = 0; i < 4; i++) {
      await anthropic().messages.create({
        model: 'claude-sonnet-4-5-20250929',
        max_tokens: 16,
        messages: [{ role: 'user', content: `n${i}` }],
      });
    }
    expect(mock.countByKey()).toEqual({ [CLAUDE_KEYS[0]]: 2, [CLAUDE_KEYS[1]]: 2 });
  });
});

describe('client keys, limits and errors', () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('rejects a missing key and a wrong key with CLIProxyAPI bodies', async () => {
    const missing = await post('/v1/chat/completions', '{"model":"gpt-4o-mini","messages":[]}');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: 'Missing API key' });
    const wrong = await post('/v1/messages', '{"model":"x"}', { 'x-api-key': 'nope' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'Invalid API key' });
  });

  it('accepts the key as X-Goog-Api-Key and ?key=', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'k' }] });
    expect((await post('/v1/chat/completions', body, { 'x-goog-api-key': CLIENT_KEY })).status).toBe(200);
    expect((await post(`/v1/chat/completions?key=${CLIENT_KEY}`, body)).status).toBe(200);
  });

  it('answers an oversized body with 413 in the client format', async () => {
    const huge = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x'.repeat(300 * 1024) }],
    });
    const openaiStyle = await post('/v1/chat/completions', huge, { authorization: `Bearer ${CLIENT_KEY}` });
    expect(openaiStyle.status).toBe(413);
    expect(((await openaiStyle.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const claudeStyle = await post('/v1/messages', huge, { 'x-api-key': CLIENT_KEY });
    expect(claudeStyle.status).toBe(413);
    expect(await claudeStyle.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(mock.requests).toHaveLength(0);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await post('/v1/chat/completions', '{"model": "gpt-4o-mini", ', {
      authorization: `Bearer ${CLIENT_KEY}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/JSON/);
  });

  it('passes the upstream status and error body through when the request itself is bad', async () => {
    const body = { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: field required' } };
    for (const key of CLAUDE_KEYS) mock.setBehavior(key, { status: 400, body });
    const res = await post(
      '/v1/messages',
      JSON.stringify({ model: 'claude-sonnet-4-5-20250929', messages: [{ role: 'user', content: 'x' }] }),
      { 'x-api-key': CLIENT_KEY },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(body);
  });

  it('lists the models the pool serves and answers health checks', async () => {
    const models = await openai().models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o-mini', 'team-model', 'claude-sonnet-4-5-20250929']));
    const anonymous = await fetch(`${stack.url}/v1/models`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: 'Missing API key' });
    const wrongKey = await fetch(`${stack.url}/v1beta/models?key=nope`);
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.json()).toEqual({ error: 'Invalid API key' });
    const health = await fetch(`${stack.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});

describe('management API through the gateway', () => {
  it('requires the management key', async () => {
    const res = await fetch(`${stack.url}/v0/management/config`);
    expect(res.status).toBe(401);
  });

  it("reports usage per client key and model in CLIProxyAPI's shape", async () => {
    await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count these four words' }],
    });
    type Details = { tokens: { input_tokens: number; total_tokens: number }; auth_index: string; failed: boolean }[];
    type Snapshot = {
      total_requests: number;
      total_tokens: number;
      apis: Record<string, { models: Record<string, { total_requests: number; details: Details }> }>;
    };
    const report = await waitFor(async () => {
      const res = await management('/usage');
      const body = (await res.json()) as { usage: Snapshot; failed_requests: number };
      const model = Object.values(body.usage.apis).find((api) => api.models['gpt-4o-mini'])?.models['gpt-4o-mini'];
      return model && model.total_requests > 0 ? { usage: body.usage, model } : undefined;
    }, 5_000);
    expect(report.usage.total_requests).toBeGreaterThan(0);
    expect(report.usage.total_tokens).toBeGreaterThan(0);
    expect(report.model.details.some((d) => d.tokens.input_tokens > 0 && d.auth_index !== '' && !d.failed)).toBe(true);
  });

  it('adds a client key that every gateway accepts without a restart', async () => {
    const newKey = 'sk-added-through-management';
    const before = await management('/api-keys');
    const keys = ((await before.json()) as { 'api-keys': string[] })['api-keys'];
    expect(keys).toContain(CLIENT_KEY);
    const put = await management('/api-keys', { method: 'PUT', body: JSON.stringify([...keys, newKey]) });
    expect(put.status).toBe(200);
    await onEveryGateway(async (gateway) => {
      const client = new OpenAI({ apiKey: newKey, baseURL: `${gateway}/v1`, maxRetries: 0 });
      try {
        await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'new key' }],
        });
        return true;
      } catch {
        return false;
      }
    }, PROPAGATION_MS);
  });
});

describe('service processes', () => {
  it('every replica runs with the Node flags and environment tools/node-flags.conf gives its service', async () => {
    const { nodeFlags, serviceEnv } = await import('../tools/stack.mjs');
    const expectedEnv = Object.entries(serviceEnv()).map(([name, value]) => `${name}=${value}`);
    const seen = new Set<string>();
    for (const { label, child } of stack.services) {
      // Linux: the command line the launcher started, `node <flags> [CPA_NODE_ARGS] <root>/apps/<service>/dist/main.js`.
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const service = basename(dirname(dirname(argv.at(-1)!)));
      const flags = nodeFlags(service);
      expect(argv.slice(1, 1 + flags.length), label).toEqual(flags);
      expect(readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0'), label).toEqual(
        expect.arrayContaining(expectedEnv),
      );
      seen.add(service);
    }
    expect([...seen].sort()).toEqual(['admin', 'executor', 'gateway', 'refresh-worker', 'scheduler']);
  });
});

// Last on purpose: it stops the gateway.
describe('graceful shutdown', () => {
  it('lets an in-flight stream finish when the gateway receives SIGTERM', async () => {
    mock.setBehavior('*', { chunkDelayMs: 150, streamChunks: 6 });
    const stream = await anthropic().messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'one two three four five six seven eight' }],
    });
    const gateway = stack.services.find((s) => s.name === 'gateway')!;
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
    let text = '';
    let signalled = false;
    let stop: string | null = null;
    for await (const event of stream) {
      if (!signalled) {
        gateway.child.kill('SIGTERM');
        signalled = true;
      }
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') stop = event.delta.stop_reason;
    }
    expect(text).toContain('one two three four five six seven eight');
    expect(stop).toBe('end_turn');
    await exited;
    const refused = await fetch(`${stack.url}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(refused).toBe('refused');
  });
});
