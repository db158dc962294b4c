import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from './server';
import type { MockUpstream } from './types';

const tools: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'number' } },
      required: ['city'],
    },
  },
];

describe('mock upstream: Anthropic Messages via the official SDK', () => {
  let mock: MockUpstream;
  let client: Anthropic;
  beforeAll(async () => {
    mock = await startMockUpstream();
    client = new Anthropic({ apiKey: 'sk-ant-1', baseURL: mock.url, maxRetries: 0 });
  });
  afterAll(() => mock.close());
  beforeEach(() => mock.reset());

  it('answers a non-streamed message with the echo, stop reason and usage', async () => {
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      system: 'you are terse',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello claude' }] }],
    });
    expect(msg.type).toBe('message');
    expect(msg.model).toBe('claude-sonnet-4-6');
    expect(msg.content).toEqual([{ type: 'text', text: 'echo: hello claude' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 5, output_tokens: 3 });
    expect(mock.requests[0]).toMatchObject({ path: '/v1/messages', apiKey: 'sk-ant-1', format: 'claude' });
    expect(mock.requests[0].headers['anthropic-version']).toBeTruthy();
  });

  it('sends the full Messages event sequence on the wire, ping included', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-1', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-6',
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'hi there' }],
      }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const frames = text.split('\n\n').filter(Boolean);
    const events = frames.map((f) => /^event: (\S+)\ndata: /.exec(f)?.[1]);
    // Each frame's event name repeats as the `type` of its data, as in the real API.
    frames.forEach((f, i) => expect(JSON.parse(f.slice(f.indexOf('data: ') + 6)).type).toBe(events[i]));
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('streams text deltas that the SDK assembles with finalMessage()', async () => {
    mock.setBehavior('sk-ant-1', { streamChunks: 2 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'tell me a story' }],
    });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas).toHaveLength(2);
    expect(deltas.join('')).toBe('echo: tell me a story');
    expect(final.content).toEqual([{ type: 'text', text: 'echo: tell me a story' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage).toMatchObject({ input_tokens: 4, output_tokens: 5 });
  });

  it('streams thinking (thinking_delta + signature_delta) before the text when thinking is enabled', async () => {
    const final = await client.messages
      .stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'think hard' }],
      })
      .finalMessage();
    expect(final.content[0]).toEqual({
      type: 'thinking',
      thinking: 'thinking about: think hard',
      signature: expect.stringMatching(/^sig-mock-/),
    });
    expect(final.content[1]).toEqual({ type: 'text', text: 'echo: think hard' });
  });

  it('streams a tool_use block through input_json_delta; the SDK parses the input', async () => {
    const final = await client.messages
      .stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        tools,
        messages: [{ role: 'user', content: 'get_weather in Rome' }],
      })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([
      { type: 'tool_use', id: 'toolu_mock_0', name: 'get_weather', input: { city: 'get_weather in Rome', days: 1 } },
    ]);
  });

  it('answers a tool_result with text (non-streamed tool round trip)', async () => {
    const first = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      tools,
      messages: [{ role: 'user', content: 'use a tool' }],
    });
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toMatchObject({ name: 'get_weather', input: { city: 'use a tool', days: 1 } });
    const second = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'use a tool' },
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: toolUse!.type === 'tool_use' ? toolUse!.id : '', content: 'cloudy' },
          ],
        },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'echo: tool result: cloudy' }]);
  });

  it('counts tokens as words of system and messages', async () => {
    const res = await client.messages.countTokens({
      model: 'claude-sonnet-4-6',
      system: 'two words',
      messages: [{ role: 'user', content: 'three more words' }],
    });
    expect(res.input_tokens).toBe(5);
  });

  it('accepts an OAuth Bearer token and records it as the key', async () => {
    const oauth = new Anthropic({ authToken: 'oauth-token-1', apiKey: null, baseURL: mock.url, maxRetries: 0 });
    const msg = await oauth.messages.create({
      model: 'claude-opus-4-1',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.content[0]).toEqual({ type: 'text', text: 'echo: hi' });
    expect(mock.requests[0].apiKey).toBe('oauth-token-1');
  });

  it('rejects requests without anthropic-version, without a key, or without max_tokens, like the API', async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${mock.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const body = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    const noVersion = await post({ 'x-api-key': 'k' }, body);
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    const noKey = await post({ 'anthropic-version': '2023-06-01' }, body);
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    const noMax = await post(
      { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      { ...body, max_tokens: undefined },
    );
    expect(noMax.status).toBe(400);
    expect(((await noMax.json()) as { error: { message: string } }).error.message).toBe('max_tokens: Field required');
  });

  it('lists models in Anthropic form when anthropic-version is sent', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('claude-sonnet-4-6');
    expect(page.data[0].type).toBe('model');
  });
});
