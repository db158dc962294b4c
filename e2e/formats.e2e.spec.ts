/**
 * Every client format against every upstream format, through the whole stack: the official
 * SDKs talk to the gateway, the executors translate, the mock upstream answers in its own
 * format (it echoes the last user text, and calls a declared tool when the text names it).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KEY, useStack } from './stack-fixture';

const KEYS = { claude: 'fmt-claude-key', gemini: 'fmt-gemini-key', responses: 'fmt-codex-key', chat: 'fmt-chat-key' };

/** One model alias per upstream format, so every client can target every upstream. */
const UPSTREAMS = [
  { name: 'claude', model: 'up-claude', upstreamModel: 'claude-sonnet-4-5', key: KEYS.claude, path: '/v1/messages' },
  {
    name: 'gemini',
    model: 'up-gemini',
    upstreamModel: 'gemini-2.5-flash',
    key: KEYS.gemini,
    path: '/v1beta/models/gemini-2.5-flash:',
  },
  {
    name: 'openai-responses',
    model: 'up-responses',
    upstreamModel: 'gpt-5',
    key: KEYS.responses,
    path: '/v1/responses',
  },
  { name: 'openai-chat', model: 'up-chat', upstreamModel: 'gpt-4o-mini', key: KEYS.chat, path: '/v1/chat/completions' },
] as const;
type Upstream = (typeof UPSTREAMS)[number];

const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' } },
  required: ['city'],
};
const TOOL_PROMPT = 'call get_weather for the city';

let genai: typeof GenAI;
beforeAll(async () => {
  genai = await import('@google/genai');
});

const { mock, stack, openai, anthropic } = useStack({
  config: (upstream) => ({
    'claude-api-key': [
      { 'api-key': KEYS.claude, 'base-url': upstream.url, models: [{ name: 'claude-sonnet-4-5', alias: 'up-claude' }] },
    ],
    'gemini-api-key': [
      { 'api-key': KEYS.gemini, 'base-url': upstream.url, models: [{ name: 'gemini-2.5-flash', alias: 'up-gemini' }] },
    ],
    'codex-api-key': [
      {
        'api-key': KEYS.responses,
        'base-url': `${upstream.url}/v1`,
        models: [{ name: 'gpt-5', alias: 'up-responses' }],
      },
    ],
    'openai-compatibility': [
      {
        name: 'mock-chat',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': KEYS.chat }],
        models: [{ name: 'gpt-4o-mini', alias: 'up-chat' }],
      },
    ],
  }),
});

const gemini = () => new genai.GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: stack.url } });

/** The upstream request that served the call: right credential, right wire format. */
function expectServedBy(up: Pick<Upstream, 'key'> & { path: string }): void {
  const served = mock.requests.at(-1)!;
  expect(served.apiKey).toBe(up.key);
  expect(served.path.startsWith(up.path)).toBe(true);
}

describe.each(UPSTREAMS)('OpenAI chat client -> $name upstream', (up) => {
  it('non-streaming: text, finish reason, usage', async () => {
    const res = await openai().chat.completions.create({
      model: up.model,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello chat client' },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: hello chat client');
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage?.completion_tokens).toBe(4);
    expectServedBy(up);
  });

  it('streaming: deltas, finish reason, usage chunk', async () => {
    const stream = await openai().chat.completions.create({
      model: up.model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream the chat words' }],
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('echo: stream the chat words');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(5);
    expectServedBy(up);
  });

  it('tool call round trip', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather of a city', parameters: WEATHER_SCHEMA },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: TOOL_PROMPT }];
    const first = await openai().chat.completions.create({ model: up.model, messages, tools });
    const call = first.choices[0].message.tool_calls?.[0];
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    const args = JSON.parse(call?.type === 'function' ? call.function.arguments : '{}');
    expect(args).toEqual({ city: TOOL_PROMPT });
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call!.id, content: 'sunny and 21C' });
    const second = await openai().chat.completions.create({ model: up.model, messages, tools });
    expect(second.choices[0].message.content).toContain('sunny and 21C');
    expect(second.choices[0].finish_reason).toBe('stop');
  });

  it('streamed tool call arguments assemble', async () => {
    const stream = await openai().chat.completions.create({
      model: up.model,
      stream: true,
      messages: [{ role: 'user', content: TOOL_PROMPT }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA } }],
    });
    let args = '';
    let name = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.tool_calls?.[0];
      name ||= delta?.function?.name ?? '';
      args += delta?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: TOOL_PROMPT });
    expect(finish).toBe('tool_calls');
  });
});

describe.each(UPSTREAMS)('OpenAI Responses client -> $name upstream', (up) => {
  it('non-streaming: output text, status, usage', async () => {
    const res = await openai().responses.create({
      model: up.model,
      instructions: 'be brief',
      input: 'hello responses client',
    });
    expect(res.output_text).toBe('echo: hello responses client');
    expect(res.status).toBe('completed');
    expect(res.usage?.input_tokens).toBeGreaterThan(0);
    expect(res.usage?.output_tokens).toBe(4);
    expectServedBy(up);
  });

  it('streaming: typed events, completed response with usage', async () => {
    const stream = await openai().responses.create({
      model: up.model,
      input: 'stream the responses words',
      stream: true,
    });
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(text).toBe('echo: stream the responses words');
    expect(completed?.status).toBe('completed');
    expect(completed?.usage?.output_tokens).toBe(5);
    expectServedBy(up);
  });

  it('tool call round trip', async () => {
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather of a city',
        parameters: WEATHER_SCHEMA,
        strict: false,
      },
    ];
    const first = await openai().responses.create({ model: up.model, input: TOOL_PROMPT, tools });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call?.type === 'function_call' && call.name).toBe('get_weather');
    expect(JSON.parse(call?.type === 'function_call' ? call.arguments : '{}')).toEqual({ city: TOOL_PROMPT });
    const second = await openai().responses.create({
      model: up.model,
      tools,
      input: [
        { role: 'user', content: TOOL_PROMPT },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        {
          type: 'function_call_output',
          call_id: (call as OpenAI.Responses.ResponseFunctionToolCall).call_id,
          output: 'sunny and 21C',
        },
      ],
    });
    expect(second.output_text).toContain('sunny and 21C');
    expect(second.status).toBe('completed');
  });
});

describe.each(UPSTREAMS)('Anthropic client -> $name upstream', (up) => {
  it('non-streaming: text, stop reason, usage', async () => {
    const msg = await anthropic().messages.create({
      model: up.model,
      max_tokens: 256,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hello anthropic client' }],
    });
    expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: 'echo: hello anthropic client' })]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBe(4);
    expectServedBy(up);
  });

  it('streaming: text deltas, final message', async () => {
    const stream = anthropic().messages.stream({
      model: up.model,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'stream the anthropic words' }],
    });
    const deltas: string[] = [];
    stream.on('text', (d) => deltas.push(d));
    const final = await stream.finalMessage();
    expect(deltas.join('')).toBe('echo: stream the anthropic words');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(5);
    expectServedBy(up);
  });

  it('tool call round trip (streamed first turn)', async () => {
    const tools: Anthropic.Tool[] = [
      {
        name: 'get_weather',
        description: 'Weather of a city',
        input_schema: WEATHER_SCHEMA as Anthropic.Tool.InputSchema,
      },
    ];
    const first = await anthropic()
      .messages.stream({ model: up.model, max_tokens: 256, tools, messages: [{ role: 'user', content: TOOL_PROMPT }] })
      .finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(use?.name).toBe('get_weather');
    expect(use?.input).toEqual({ city: TOOL_PROMPT });
    const second = await anthropic().messages.create({
      model: up.model,
      max_tokens: 256,
      tools,
      messages: [
        { role: 'user', content: TOOL_PROMPT },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: 'sunny and 21C' }] },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toContain('sunny and 21C');
  });
});

describe.each(UPSTREAMS)('Gemini client -> $name upstream', (up) => {
  it('non-streaming: text, finish reason, usage', async () => {
    const res = await gemini().models.generateContent({
      model: up.model,
      contents: 'hello gemini client',
      config: { systemInstruction: 'be brief' },
    });
    expect(res.text).toBe('echo: hello gemini client');
    expect(res.candidates?.[0].finishReason).toBe('STOP');
    expect(res.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
    expect(res.usageMetadata?.candidatesTokenCount).toBe(4);
    expectServedBy(up);
  });

  it('streaming (alt=sse): chunks, finish reason, usage', async () => {
    const stream = await gemini().models.generateContentStream({
      model: up.model,
      contents: 'stream the gemini words',
    });
    let text = '';
    let last: GenAI.GenerateContentResponse | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.text ?? '';
      last = chunk;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text).toBe('echo: stream the gemini words');
    expect(last?.candidates?.[0].finishReason).toBe('STOP');
    expect(last?.usageMetadata?.candidatesTokenCount).toBe(5);
    expectServedBy(up);
  });

  it('tool call round trip', async () => {
    const config = {
      tools: [
        {
          functionDeclarations: [
            { name: 'get_weather', description: 'Weather of a city', parametersJsonSchema: WEATHER_SCHEMA },
          ],
        },
      ],
    };
    const first = await gemini().models.generateContent({ model: up.model, contents: TOOL_PROMPT, config });
    const call = first.functionCalls?.[0];
    expect(call?.name).toBe('get_weather');
    expect(call?.args).toEqual({ city: TOOL_PROMPT });
    const second = await gemini().models.generateContent({
      model: up.model,
      config,
      contents: [
        { role: 'user', parts: [{ text: TOOL_PROMPT }] },
        first.candidates![0].content!,
        {
          role: 'user',
          parts: [{ functionResponse: { id: call!.id, name: 'get_weather', response: { forecast: 'sunny and 21C' } } }],
        },
      ],
    });
    expect(second.text).toContain('sunny and 21C');
    expect(second.candidates?.[0].finishReason).toBe('STOP');
  });

  it('streams a JSON array without alt=sse', async () => {
    const res = await fetch(`${stack.url}/v1beta/models/${up.model}:streamGenerateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': CLIENT_KEY },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'array of words' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const chunks = (await res.json()) as GenAI.GenerateContentResponse[];
    expect(chunks.map((c) => c.candidates?.[0]?.content?.parts?.map((p) => p.text ?? '').join('') ?? '').join('')).toBe(
      'echo: array of words',
    );
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
  });
});

describe('stream response heads', () => {
  it.each(UPSTREAMS)('translated and relayed SSE streams are event-stream, not cached ($name upstream)', async (up) => {
    const res = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: up.model,
        max_tokens: 32,
        stream: true,
        messages: [{ role: 'user', content: 'head check' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const text = await res.text();
    expect(text).toContain('event: message_stop');
  });
});

describe('count tokens', () => {
  it.each(UPSTREAMS)('Anthropic countTokens served by the $name upstream', async (up) => {
    const res = await anthropic().messages.countTokens({
      model: up.model,
      messages: [{ role: 'user', content: 'count these five small words please' }],
    });
    expect(res.input_tokens).toBeGreaterThan(0);
    // Claude and Gemini count upstream (the mock counts words); OpenAI formats are estimated locally.
    if (up.name === 'claude' || up.name === 'gemini') expect(res.input_tokens).toBe(6);
    else expect(mock.requests).toHaveLength(0);
  });

  it.each(UPSTREAMS)('Gemini countTokens served by the $name upstream', async (up) => {
    const res = await gemini().models.countTokens({ model: up.model, contents: 'count these five small words please' });
    expect(res.totalTokens).toBeGreaterThan(0);
    if (up.name === 'claude' || up.name === 'gemini') expect(res.totalTokens).toBe(6);
    else expect(mock.requests).toHaveLength(0);
  });
});

describe('legacy completions', () => {
  it.each(UPSTREAMS)('OpenAI completions served by the $name upstream', async (up) => {
    const res = await openai().completions.create({ model: up.model, prompt: 'complete this prompt', max_tokens: 32 });
    expect(res.choices[0].text).toBe('echo: complete this prompt');
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage?.completion_tokens).toBe(4);
    // openai-compat upstreams speak legacy completions natively.
    expectServedBy(up.name === 'openai-chat' ? { ...up, path: '/v1/completions' } : up);
  });

  it('streams legacy completions from a translated upstream', async () => {
    const stream = await openai().completions.create({
      model: 'up-claude',
      prompt: 'stream a completion',
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('echo: stream a completion');
  });
});

describe('model listings', () => {
  const ids = ['up-chat', 'up-claude', 'up-gemini', 'up-responses'];

  it('GET /v1/models in OpenAI form', async () => {
    const list = await openai().models.list();
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(ids));
  });

  it('GET /v1/models in Claude form for Anthropic clients', async () => {
    const list = await anthropic().models.list();
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(ids));
    expect(list.data.every((m) => m.type === 'model')).toBe(true);
  });

  it('GET /v1beta/models and /v1beta/models/{model} in Gemini form', async () => {
    const names: string[] = [];
    for await (const model of await gemini().models.list()) names.push(model.name ?? '');
    expect(names).toEqual(expect.arrayContaining(ids.map((id) => `models/${id}`)));
    const one = await gemini().models.get({ model: 'up-gemini' });
    expect(one.name).toBe('models/up-gemini');
    const missing = await fetch(`${stack.url}/v1beta/models/not-served`, { headers: { 'x-goog-api-key': CLIENT_KEY } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});

describe('errors across formats', () => {
  it('an upstream error before the first byte reaches the client in its own format, status kept', async () => {
    mock.setBehavior(KEYS.claude, {
      status: 400,
      body: { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long' } },
    });
    const err = await openai()
      .chat.completions.create({ model: 'up-claude', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      message: 'prompt is too long',
      type: 'invalid_request_error',
    });

    mock.setBehavior(KEYS.chat, {
      status: 400,
      body: { error: { message: 'bad field', type: 'invalid_request_error', code: null } },
    });
    const geminiErr = await gemini()
      .models.generateContent({ model: 'up-chat', contents: 'x' })
      .catch((e: unknown) => e);
    expect(geminiErr).toBeInstanceOf(genai.ApiError);
    expect((geminiErr as GenAI.ApiError).status).toBe(400);
    expect((geminiErr as GenAI.ApiError).message).toContain('bad field');
  });

  it('a stream that breaks mid-way ends with the client format error event', async () => {
    mock.setBehavior(KEYS.chat, { closeMidStream: true, streamChunks: 8, chunkDelayMs: 5 });
    const stream = anthropic().messages.stream({
      model: 'up-chat',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'one two three four five six seven eight' }],
    });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/upstream stream broke/);
  });
});
