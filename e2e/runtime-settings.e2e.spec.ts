/**
 * Routing settings changed through the management API reach every scheduler and gateway
 * without a restart (issue 3 item 4).
 */
import { describe, expect, it } from 'vitest';
import { PROPAGATION_MS, TWO_OF_EACH, useStack } from './stack-fixture';

const KEYS = ['rt-key-a', 'rt-key-b', 'rt-key-c'];

const { mock, openai, management, onEveryGateway } = useStack({
  env: () => TWO_OF_EACH,
  families: ['openai-compat'],
  config: (upstream) => ({
    'openai-compatibility': [
      {
        name: 'rt',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': KEYS.map((key) => ({ 'api-key': key })),
        models: [{ name: 'rt-model', alias: 'rt-model' }],
      },
    ],
  }),
});

const put = (path: string, value: unknown) => management(path, { method: 'PUT', body: JSON.stringify({ value }) });

const ask = (headers: Record<string, string> = {}, gateway?: string) =>
  openai({ defaultHeaders: headers, gateway }).chat.completions.create({
    model: 'rt-model',
    messages: [{ role: 'user', content: 'which key serves me' }],
  });

/** Sends `n` requests one after another (through `gateway`, or spread over all) and returns the upstream keys that served them. */
async function servedBy(n: number, headers: Record<string, string> = {}, gateway?: string): Promise<string[]> {
  mock.reset();
  for (let i = 0; i < n; i++) await ask(headers, gateway);
  return mock.requests.map((r) => r.apiKey);
}

describe('routing settings at runtime', () => {
  it('switches from round-robin to fill-first without a restart', async () => {
    expect(new Set(await servedBy(6)).size).toBe(3);
    expect((await put('/routing/strategy', 'fill-first')).status).toBe(200);
    await onEveryGateway(async (gateway) => new Set(await servedBy(4, {}, gateway)).size === 1, PROPAGATION_MS);
    expect(new Set(await servedBy(4)).size).toBe(1);
    expect((await put('/routing/strategy', 'round-robin')).status).toBe(200);
    await onEveryGateway(async (gateway) => new Set(await servedBy(6, {}, gateway)).size === 3, PROPAGATION_MS);
  });

  it('keeps a session on one credential once session affinity is switched on', async () => {
    expect((await put('/routing/session-affinity', true)).status).toBe(200);
    await onEveryGateway(
      async (gateway) => new Set(await servedBy(5, { 'x-session-id': 'conversation-1' }, gateway)).size === 1,
      PROPAGATION_MS,
    );
    const first = await servedBy(6, { 'x-session-id': 'conversation-1' });
    expect(new Set(first).size).toBe(1);
    // Other sessions are still spread by the underlying round-robin.
    const others = new Set<string>();
    for (let i = 0; i < 6; i++) others.add((await servedBy(1, { 'x-session-id': `other-${i}` }))[0]);
    expect(others.size).toBeGreaterThan(1);
    expect((await put('/routing/session-affinity', false)).status).toBe(200);
  });
});
