import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientKeyAnswer, ClientKeyCreated, ClientKeyList, ClientKeyView } from '@cpa/contracts/management-views';
import { waitFor } from '@cpa/testing';
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import { CLIENT_KEY, MANAGEMENT_SECRET, PROPAGATION_MS, TWO_OF_EACH, useStack } from './stack-fixture';

/**
 * Client keys with limits and budgets through two gateways (and two schedulers and
 * executors per family), driven by the official SDKs: every limit is enforced by the pod
 * that happens to serve a request, from counters the pods share in Redis.
 */
const { stack, management, onEveryGateway } = useStack({
  families: ['claude', 'openai-compat'],
  config: (upstream) => ({
    'claude-api-key': [{ 'api-key': 'claude-key-a', 'base-url': upstream.url }],
    'openai-compatibility': [
      {
        name: 'mock-openai',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': 'compat-key-a' }],
        models: [{ name: 'gpt-4o-mini', alias: 'gpt-4o-mini' }],
      },
    ],
  }),
  env: () => ({ ...TWO_OF_EACH }),
});

let genai: typeof GenAI;
beforeAll(async () => {
  genai = await import('@google/genai');
});

const openai = (gateway: string, key: string) => new OpenAI({ apiKey: key, baseURL: `${gateway}/v1`, maxRetries: 0 });
const anthropic = (gateway: string, key: string) => new Anthropic({ apiKey: key, baseURL: gateway, maxRetries: 0 });
const gemini = (gateway: string, key: string) =>
  new genai.GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gateway } });
const chat = (gateway: string, key: string, content = 'hello from a limited key') =>
  openai(gateway, key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

async function createKey(body: Record<string, unknown>): Promise<{ key: string; view: ClientKeyView }> {
  const res = await management('/client-keys', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  const created = (await res.json()) as ClientKeyCreated;
  return { key: created.key, view: created['client-key'] };
}

async function patchKey(id: string, body: Record<string, unknown>): Promise<ClientKeyView> {
  const res = await management(`/client-keys/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as ClientKeyAnswer)['client-key'];
}

/** DELETE without a body (and so without a JSON content type, which Fastify would want a body for). */
const deleteKey = (id: string) =>
  fetch(`${stack.urls[0]}/v0/management/client-keys/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${MANAGEMENT_SECRET}` },
  });

async function listKeys(): Promise<ClientKeyView[]> {
  const res = await management('/client-keys');
  expect(res.status).toBe(200);
  return ((await res.json()) as ClientKeyList)['client-keys'];
}

const viewOf = async (id: string) => (await listKeys()).find((k) => k.id === id);

/**
 * Waits until the key's recorded tokens today reach `tokens`. The management API reads them
 * from Postgres, which the admin's usage drain fills a second or two after the request; a
 * budget or tpm limit counts in Redis, charged as soon as the scheduler hears of the result,
 * so by then the limits have counted it too.
 */
const tokensRecorded = (id: string, tokens: number) =>
  waitFor(async () => {
    const view = await viewOf(id);
    return view && view.usage.tokens_today >= tokens ? view : undefined;
  }, 10_000);

/** Every gateway knows the key: listing models (which no limit counts) works with it. */
const knownEverywhere = (key: string) =>
  onEveryGateway(
    async (gateway) =>
      (await fetch(`${gateway}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status === 200,
    PROPAGATION_MS,
  );

/** The status a gateway answers the key with now. */
const statusOf = async (gateway: string, key: string) => {
  try {
    await chat(gateway, key);
    return 200;
  } catch (err) {
    return err instanceof OpenAI.APIError ? err.status : -1;
  }
};

/** The error message a gateway answers the key with now (undefined when the request succeeds). */
const messageOf = async (gateway: string, key: string) => {
  try {
    await chat(gateway, key);
    return undefined;
  } catch (err) {
    return err instanceof OpenAI.APIError
      ? ((err.error as { message?: string } | undefined)?.message ?? err.message)
      : String(err);
  }
};

/** What a gateway answers a key it does not know: CLIProxyAPI's plain body. */
const plainAnswer = async (gateway: string, key: string) => {
  const res = await fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return { status: res.status, body: (await res.json()) as unknown };
};

async function refusal(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  return err as { status: number; headers: Headers; error: unknown; message: string };
}

describe('client keys through two gateways', () => {
  it('creates a key whose secret is shown once, lists it beside the config keys and in /api-keys', async () => {
    const { key, view } = await createKey({
      name: 'ci team',
      models: ['gpt-*'],
      rpm_limit: 100,
      daily_token_budget: 1_000_000,
    });
    expect(key).toMatch(/^sk-cpa-/);
    expect(view).toMatchObject({
      name: 'ci team',
      models: ['gpt-*'],
      rpm_limit: 100,
      daily_token_budget: 1_000_000,
      disabled: false,
      source: 'management',
      expires_at: null,
    });
    expect(key.startsWith(view.key_preview.split('...')[0]!)).toBe(true);

    const listing = await management('/client-keys');
    const text = await listing.text();
    expect(text).not.toContain(key);
    const keys = (JSON.parse(text) as ClientKeyList)['client-keys'];
    expect(keys.find((k) => k.id === view.id)).toMatchObject({ name: 'ci team' });
    expect(keys.find((k) => k.source === 'config')).toBeDefined();
    // CLIProxyAPI's plain list shows every key, the new one included.
    const plain = (await (await management('/api-keys')).json()) as { 'api-keys': string[] };
    expect(plain['api-keys']).toEqual(expect.arrayContaining([CLIENT_KEY, key]));
    expect(stack.logs.join('\n')).not.toContain(key);
    // Audited with its settings and preview, never the key.
    const audit = await (await management('/audit-log')).text();
    expect(audit).not.toContain(key);
    const created = (
      JSON.parse(audit) as { entries: { action: string; target: string; after: Record<string, unknown> }[] }
    ).entries.find((e) => e.action === 'client-key.create' && e.target === view.id);
    expect(created?.after).toMatchObject({ name: 'ci team', keyPreview: view.key_preview, rpmLimit: 100 });

    const bad = await management('/client-keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'x', rpm_limit: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('rpm_limit');
  });

  it('enforces an rpm limit of N exactly across both gateways: the N+1th is refused with 429 and Retry-After', async () => {
    const N = 4;
    const { key, view } = await createKey({ name: 'rpm', rpm_limit: N });
    await knownEverywhere(key);
    for (let i = 0; i < N; i++) {
      const completion = await chat(stack.urls[i % stack.urls.length]!, key, `request ${i}`);
      expect(completion.choices[0]?.message.content).toContain(`request ${i}`);
    }
    // Refused by whichever pod serves it, each in its client's format.
    for (const gateway of stack.urls) {
      const err = await refusal(chat(gateway, key));
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.status).toBe(429);
      const retryAfter = Number(err.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(err.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      expect(err.message).toContain(`${N} requests per minute`);

      const claude = await refusal(
        anthropic(gateway, key).messages.create({
          model: 'claude-sonnet-4-5-20250929',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      );
      expect(claude).toBeInstanceOf(Anthropic.RateLimitError);
      expect(Number(claude.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(claude.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    }
    expect((await viewOf(view.id))?.rpm_limit).toBe(N);
  });

  it('refuses a model outside the allowed list in each client format, and a PATCH opens it on every gateway', async () => {
    const { key, view } = await createKey({ name: 'claude only', models: ['claude-*'] });
    await knownEverywhere(key);
    const gateway = stack.urls[1]!;
    const answer = await anthropic(gateway, key).messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'allowed model' }],
    });
    expect(answer.content[0]).toMatchObject({ type: 'text' });

    const err = await refusal(chat(gateway, key));
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'model_not_found',
      message: 'This client key may not use model gpt-4o-mini',
    });
    const google = await refusal(
      gemini(gateway, key).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }),
    );
    expect(google).toBeInstanceOf(genai.ApiError);
    expect(google.status).toBe(403);
    expect(google.message).toContain('PERMISSION_DENIED');

    // The key's model listing shows only what it may call; a key without a list sees every model.
    const listed = async (k: string) => (await openai(gateway, k).models.list()).data.map((m) => m.id);
    const everything = await listed(CLIENT_KEY);
    expect(everything).toEqual(expect.arrayContaining(['gpt-4o-mini', 'claude-sonnet-4-5-20250929']));
    expect(await listed(key)).toEqual(everything.filter((id) => id.startsWith('claude-')));

    await patchKey(view.id, { models: ['claude-*', 'gpt-4o-*'] });
    await onEveryGateway(async (g) => (await statusOf(g, key)) === 200, PROPAGATION_MS);
  });

  it('refuses an expired key and a disabled key with 401 in the client format; PATCH and DELETE reach every gateway', async () => {
    const { key, view } = await createKey({ name: 'expired', expires_at: new Date(Date.now() - 60_000).toISOString() });
    await onEveryGateway(
      async (g) => (await messageOf(g, key))?.startsWith('This client key expired at ') === true,
      PROPAGATION_MS,
    );
    const expired = await refusal(chat(stack.urls[0]!, key));
    expect(expired).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(expired.error).toMatchObject({
      type: 'authentication_error',
      message: expect.stringMatching(/^This client key expired at /),
    });

    await patchKey(view.id, { expires_at: null });
    const entries = (
      (await (await management('/audit-log')).json()) as {
        entries: {
          action: string;
          target: string;
          before: Record<string, unknown> | null;
          after: Record<string, unknown>;
        }[];
      }
    ).entries;
    const patched = entries.find((e) => e.action === 'client-key.update' && e.target === view.id);
    expect(patched?.before).toEqual({ expiresAt: view.expires_at });
    expect(patched?.after).toMatchObject({ expiresAt: null });
    await onEveryGateway(async (g) => (await statusOf(g, key)) === 200, PROPAGATION_MS);

    const disabled = await patchKey(view.id, { disabled: true });
    expect(disabled.disabled).toBe(true);
    await onEveryGateway(async (g) => (await messageOf(g, key)) === 'This client key is disabled', PROPAGATION_MS);
    const claude = await refusal(
      anthropic(stack.urls[1]!, key).messages.create({
        model: 'claude-sonnet-4-5-20250929',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    expect(claude).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(claude.error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error', message: 'This client key is disabled' },
    });

    await patchKey(view.id, { disabled: false });
    await onEveryGateway(async (g) => (await statusOf(g, key)) === 200, PROPAGATION_MS);

    const deleted = await deleteKey(view.id);
    expect(await deleted.json()).toEqual({ status: 'ok' });
    await onEveryGateway(
      async (g) =>
        JSON.stringify(await plainAnswer(g, key)) ===
        JSON.stringify({ status: 401, body: { error: 'Invalid API key' } }),
      PROPAGATION_MS,
    );
    expect((await deleteKey(view.id)).status).toBe(404);
  });

  it('stops the request after the one that spends the daily budget; a streamed request that crosses it completes', async () => {
    // What one such request costs, measured on the config key: its usage as the management API counts it.
    const reference = (await listKeys()).find((k) => k.source === 'config')!;
    const sent = await chat(stack.urls[0]!, CLIENT_KEY, 'measure the cost of this prompt');
    const measured = await tokensRecorded(reference.id, reference.usage.tokens_today + 1);
    const cost = measured.usage.tokens_today - reference.usage.tokens_today;
    expect(cost).toBe(sent.usage!.prompt_tokens + sent.usage!.completion_tokens);

    // One token more than one request: the first fits, the second starts, the third may not.
    const { key, view } = await createKey({ name: 'budget', daily_token_budget: cost + 1 });
    await knownEverywhere(key);
    await chat(stack.urls[0]!, key, 'measure the cost of this prompt');
    await tokensRecorded(view.id, cost);

    const stream = anthropic(stack.urls[1]!, key).messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }],
    });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]).toMatchObject({
      type: 'text',
      text: expect.stringContaining('one two three four five six seven eight nine ten'),
    });
    const spent = await tokensRecorded(view.id, cost + message.usage.input_tokens + message.usage.output_tokens);
    expect(spent.usage.tokens_today).toBeGreaterThan(cost + 1);

    for (const gateway of stack.urls) {
      const err = await refusal(chat(gateway, key));
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.error).toMatchObject({ type: 'budget_exceeded', code: 'budget_exceeded' });
      expect(err.message).toContain(`of ${cost + 1} tokens per day (UTC)`);
      const seconds = Number(err.headers.get('retry-after'));
      const untilMidnight = Math.ceil((new Date().setUTCHours(24, 0, 0, 0) - Date.now()) / 1000);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(untilMidnight + 1);
    }
    // Raising the budget lets the key through again, on every gateway.
    await patchKey(view.id, { daily_token_budget: 0 });
    await onEveryGateway(async (g) => (await statusOf(g, key)) === 200, PROPAGATION_MS);
  });

  it('counts the tokens of completed requests against the tpm limit on every gateway', async () => {
    const { key, view } = await createKey({ name: 'tpm', tpm_limit: 1 });
    await knownEverywhere(key);
    const sent = await chat(stack.urls[1]!, key, 'tokens per minute');
    await tokensRecorded(view.id, sent.usage!.prompt_tokens + sent.usage!.completion_tokens);
    for (const gateway of stack.urls) {
      const err = await refusal(chat(gateway, key));
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.error).toMatchObject({ type: 'rate_limit_error' });
      expect(err.message).toContain('1 tokens per minute');
      const retryAfter = Number(err.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
  });
});
