import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from './server';
import type { MockUpstream } from './types';

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer' },
      },
      required: ['city'],
    },
  },
};

describe('mock upstream: OpenAI Chat Completions via the official SDK', () => {
  let mock: MockUpstream;
  let client: OpenAI;
  beforeAll(async () => {
    mock = await startMockUpstream();
    client = new OpenAI({ apiKey: 'sk-chat', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => mock.close());
  beforeEach(() => mock.reset());

  it('answers a non-streamed completion with the echo, the model and word-count usage', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there mock' },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices[0].message.content).toBe('echo: hello there mock');
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
  });

  it('streams role, content deltas, finish reason, a usage chunk and [DONE]', async () => {
    mock.setBehavior('sk-chat', { streamChunks: 3 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'one two three four five' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const contentDeltas = chunks.flatMap((c) => (c.choices[0]?.delta.content ? [c.choices[0].delta.content] : []));
    expect(contentDeltas).toHaveLength(3);
    expect(contentDeltas.join('')).toBe('echo: one two three four five');
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 6 });
    expect(mock.requests[0].rawBody).toContain('"stream":true');
  });

  it('omits the usage chunk when include_usage is not requested', async () => {
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('calls the tool the user asks for, with schema-shaped arguments', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'use get_weather for Paris' }],
      tools: [weatherTool],
    });
    const choice = res.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0];
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    const args = JSON.parse(call.type === 'function' ? call.function.arguments : '{}');
    expect(args).toEqual({ city: 'use get_weather for Paris', unit: 'celsius', days: 1 });
  });

  it('streams tool-call arguments in fragments that the SDK stream helper reassembles', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'please call a tool' }],
      tools: [weatherTool],
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0];
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      city: 'please call a tool',
      unit: 'celsius',
      days: 1,
    });
  });

  it('answers a tool result with text, ending the tool loop', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'use get_weather' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_mock_0', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_mock_0', content: 'sunny 21C' },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: tool result: sunny 21C');
    expect(res.choices[0].finish_reason).toBe('stop');
  });

  it('serves the legacy completions endpoint, JSON and stream', async () => {
    const res = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'say this' });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0].text).toBe('echo: say this');
    expect(res.usage?.prompt_tokens).toBe(2);
    const stream = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'say this',
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0].text;
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    expect(text).toBe('echo: say this');
    expect(finish).toBe('stop');
  });

  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('gpt-4o-mini');
  });

  it('records what reached it, keyed by the Bearer key', async () => {
    await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'X-Trace': 'T1' } },
    );
    const [req] = mock.requests;
    expect(req).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      apiKey: 'sk-chat',
      format: 'openai-chat',
    });
    expect(req.headers['x-trace']).toBe('T1');
    expect(req.headers.authorization).toBe('Bearer sk-chat');
    expect((req.body as { model: string }).model).toBe('gpt-4o-mini');
    expect(JSON.parse(req.rawBody)).toEqual(req.body);
    expect(mock.countByKey()).toEqual({ 'sk-chat': 1 });
  });
});

describe('mock upstream: OpenAI Responses via the official SDK', () => {
  let mock: MockUpstream;
  let client: OpenAI;
  beforeAll(async () => {
    mock = await startMockUpstream();
    client = new OpenAI({ apiKey: 'sk-resp', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => mock.close());

  it('answers a non-streamed response with output_text and usage', async () => {
    const res = await client.responses.create({ model: 'gpt-5', instructions: 'be nice', input: 'hello responses' });
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(res.model).toBe('gpt-5');
    expect(res.output_text).toBe('echo: hello responses');
    expect(res.usage).toMatchObject({ input_tokens: 4, output_tokens: 3, total_tokens: 7 });
  });

  it('streams the typed event sequence', async () => {
    const stream = await client.responses.create({
      model: 'gpt-5',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'stream me please' }] }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    let lastSeq = -1;
    for await (const event of stream) {
      types.push(event.type);
      expect(event.sequence_number).toBe(lastSeq + 1);
      lastSeq = event.sequence_number;
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-5)).toEqual([
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(text).toBe('echo: stream me please');
    expect(completed?.usage?.output_tokens).toBe(4);
  });

  it('streams a function call that the SDK stream helper assembles into the final response', async () => {
    const stream = client.responses.stream({
      model: 'gpt-5',
      input: 'lookup via tool',
      tools: [
        {
          type: 'function',
          name: 'lookup',
          strict: false,
          parameters: { type: 'object', properties: { q: { type: 'string' } } },
        },
      ],
    });
    const argDeltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argDeltas.push(e.delta));
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    expect(call && call.type === 'function_call' && call.name).toBe('lookup');
    expect(call && call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ q: 'lookup via tool' });
    expect(argDeltas.join('')).toBe('{"q":"lookup via tool"}');
  });

  it('answers a function_call_output with text', async () => {
    const res = await client.responses.create({
      model: 'gpt-5',
      input: [
        { role: 'user', content: 'lookup via tool' },
        { type: 'function_call', call_id: 'call_mock_0', name: 'lookup', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_mock_0', output: '42 results' },
      ],
      tools: [{ type: 'function', name: 'lookup', strict: false, parameters: { type: 'object', properties: {} } }],
    });
    expect(res.output_text).toBe('echo: tool result: 42 results');
  });
});
