/**
 * The gateway's cap on requests in flight, through the real stack: with
 * GATEWAY_MAX_IN_FLIGHT=2 and a slow upstream holding two requests open, a third is
 * answered at once with 503 in its client's format and Retry-After (official SDKs see their
 * own error types), the two held ones still complete, the shed requests are counted in
 * cpa_gateway_shed_total, and once the two are done requests pass again.
 */
import Anthropic from '@anthropic-ai/sdk';
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@cpa/testing';
import { CLIENT_KEY, useStack } from './stack-fixture';

const UPSTREAM_KEY = 'sk-ant-shedding-upstream-0001';
const MODEL = 'shed-claude';
const MAX_IN_FLIGHT = 2;
const METRICS_TOKEN = 'shedding-metrics-token';

const { mock, stack, openai, anthropic } = useStack({
  config: (upstream) => ({
    'claude-api-key': [
      { 'api-key': UPSTREAM_KEY, 'base-url': upstream.url, models: [{ name: 'claude-sonnet-4-5', alias: MODEL }] },
    ],
  }),
  env: () => ({ GATEWAY_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), METRICS_TOKEN }),
  families: ['claude'],
});

let genai: typeof GenAI;
beforeAll(async () => {
  genai = await import('@google/genai');
});

async function shedCount(): Promise<number> {
  const res = await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  // Other labels (the service's default labels) may come along.
  const line = /^cpa_gateway_shed_total\{[^}]*reason="requests"[^}]*\} (\d+)$/m.exec(await res.text());
  return line ? Number(line[1]) : 0;
}

const ask = (text: string) =>
  anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: text }] });

describe('in-flight cap', () => {
  it('sheds the request past the cap with 503 in its client format while the held ones complete, then admits again', async () => {
    // The stack has loaded its catalog: one request through before the test proper.
    expect((await ask('warm up')).content[0]).toMatchObject({ type: 'text' });
    const shedBefore = await shedCount();

    mock.setBehavior(UPSTREAM_KEY, { delayMs: 3_000 });
    const held = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => ask(`held ${i}`));
    // Both are in the gateway's hands once the upstream has them.
    await waitFor(() => mock.requests.filter((r) => r.rawBody.includes('held ')).length === MAX_IN_FLIGHT, 10_000);

    // Anthropic's SDK: an overloaded_error with Retry-After.
    const claude = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'one too many' }] }),
    });
    expect(claude.status).toBe(503);
    expect(claude.headers.get('retry-after')).toBe('1');
    expect(await claude.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const anthropicError = await ask('one too many').catch((err: unknown) => err);
    expect(anthropicError).toBeInstanceOf(Anthropic.InternalServerError);
    expect(anthropicError).toMatchObject({
      status: 503,
      error: { type: 'error', error: { type: 'overloaded_error' } },
    });
    // OpenAI's SDK.
    const openaiError = await openai()
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'one too many' }] })
      .catch((err: unknown) => err);
    expect(openaiError).toBeInstanceOf(OpenAI.InternalServerError);
    expect(openaiError).toMatchObject({ status: 503, headers: expect.anything() });
    expect((openaiError as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    // Google's SDK: the Gemini error envelope (status UNAVAILABLE).
    const gemini = new genai.GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: stack.url } });
    const geminiError = await gemini.models
      .generateContent({ model: MODEL, contents: 'one too many' })
      .catch((err: unknown) => err);
    expect(geminiError).toBeInstanceOf(genai.ApiError);
    expect(geminiError).toMatchObject({ status: 503 });
    expect(String((geminiError as Error).message)).toContain('UNAVAILABLE');
    // Nothing of the shed requests reached the upstream.
    expect(mock.requests.filter((r) => r.rawBody.includes('one too many'))).toHaveLength(0);

    // The held requests were not disturbed.
    for (const reply of await Promise.all(held))
      expect(reply.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('held') });
    expect(await shedCount()).toBe(shedBefore + 4);

    // Their slots are free again.
    mock.clearBehavior(UPSTREAM_KEY);
    const again = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => ask(`again ${i}`)));
    expect(again).toHaveLength(MAX_IN_FLIGHT);
    expect(await shedCount()).toBe(shedBefore + 4);
  }, 60_000);
});
