import type {
  CanonicalError,
  CanonicalRequest,
  CanonicalResponse,
  ContentPart,
  ImagePart,
  Message,
  ReasoningPart,
  ResponseFormat,
  StopReason,
  StreamSink,
  TextPart,
  ToolCallPart,
  Usage,
} from '../canonical';
import type { Codec, EncodeRequestOptions, StreamDecoder, StreamEncoderOptions } from '../codec';
import { decodeAnyError, openaiErrorBody } from '../error-envelopes';
import { SseFramer, sseEvent, type Frame } from '../framing';
import { applyModelSuffix, reasoningEffortOf } from '../thinking';
import {
  asArray,
  compact,
  isObject,
  isToolCall,
  mediaFromUrl,
  mediaToUrl,
  newId,
  num,
  prefixedId,
  str,
  textOf,
  titledText,
  toolParameters,
  unixSeconds,
  type Json,
} from '../util';
import {
  decodeFunctionTool,
  decodeInputContent,
  decodeOpenaiFile,
  decodeOpenaiToolChoice,
  decodeOpenaiUsage,
  encodeJsonSchema,
  encodeOpenaiFile,
  type InputPart,
} from './shared/openai';
import { frameJson, StreamEncoderBase, toolAwareStop, type ContentEvent, type StartEvent } from './shared/stream';

export function decodeChatStop(reason: unknown): StopReason {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'end_turn';
  }
}

export function encodeChatStop(reason: StopReason): string {
  switch (reason) {
    case 'max_tokens':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'content_filter':
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** Chat and legacy completions share the usage object. */
export function openaiUsage(u: unknown): Usage | undefined {
  return decodeOpenaiUsage(u, {
    input: 'prompt_tokens',
    output: 'completion_tokens',
    inputDetails: 'prompt_tokens_details',
    outputDetails: 'completion_tokens_details',
  });
}

export function encodeOpenaiUsage(u: Usage | undefined): Json {
  const out: Json = {
    prompt_tokens: u?.inputTokens ?? 0,
    completion_tokens: u?.outputTokens ?? 0,
    total_tokens: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0),
  };
  if (u?.cachedTokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cachedTokens };
  if (u?.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}

function decodeUserPart(p: Json): InputPart | undefined {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: String(p.text ?? '') };
    case 'image_url': {
      const url = typeof p.image_url === 'string' ? p.image_url : str(p.image_url?.url);
      return url
        ? compact<ImagePart>({ type: 'image', source: mediaFromUrl(url), detail: str(p.image_url?.detail) })
        : undefined;
    }
    case 'file':
      return decodeOpenaiFile(isObject(p.file) ? p.file : {}, { urls: false });
    default:
      // input_audio has no counterpart in the other formats.
      return undefined;
  }
}

function decodeUserContent(content: unknown): InputPart[] {
  return decodeInputContent(content, decodeUserPart);
}

function decodeReasoningField(m: Json): ReasoningPart | undefined {
  // Not in OpenAI's schema, but the de-facto field of OpenAI-compatible reasoning models.
  const text = str(m.reasoning_content) ?? str(m.reasoning);
  return text ? { type: 'reasoning', text } : undefined;
}

function decodeToolCalls(calls: unknown): ToolCallPart[] {
  return asArray<Json>(calls)
    .filter((c) => isObject(c.function))
    .map((c) => ({
      type: 'tool_call',
      id: String(c.id ?? ''),
      name: String(c.function.name ?? ''),
      arguments: String(c.function.arguments ?? ''),
    }));
}

function decodeMessages(raw: unknown): { system: TextPart[]; messages: Message[] } {
  const system: TextPart[] = [];
  const messages: Message[] = [];
  for (const m of asArray<Json>(raw)) {
    if (!isObject(m)) continue;
    switch (m.role) {
      case 'system':
      case 'developer':
        for (const p of decodeUserContent(m.content)) if (p.type === 'text') system.push(p);
        break;
      case 'assistant': {
        const content: ContentPart[] = [];
        const reasoning = decodeReasoningField(m);
        if (reasoning) content.push(reasoning);
        if (typeof m.content === 'string') {
          if (m.content) content.push({ type: 'text', text: m.content });
        } else {
          for (const p of asArray<Json>(m.content)) {
            if (p.type === 'text' || p.type === 'refusal')
              content.push({ type: 'text', text: String(p.text ?? p.refusal ?? '') });
          }
        }
        content.push(...decodeToolCalls(m.tool_calls));
        messages.push({ role: 'assistant', content });
        break;
      }
      case 'tool': {
        const result = {
          type: 'tool_result' as const,
          callId: String(m.tool_call_id ?? ''),
          content: decodeUserContent(m.content),
        };
        const prev = messages[messages.length - 1];
        // Parallel results arrive as consecutive tool messages: keep them in one user turn.
        if (prev?.role === 'user' && prev.content.every((p) => p.type === 'tool_result')) prev.content.push(result);
        else messages.push({ role: 'user', content: [result] });
        break;
      }
      default:
        messages.push({ role: 'user', content: decodeUserContent(m.content) });
    }
  }
  return { system, messages };
}

export function decodeOpenaiResponseFormat(rf: unknown): ResponseFormat | undefined {
  if (!isObject(rf)) return undefined;
  if (rf.type === 'json_object' || rf.type === 'text') return { type: rf.type };
  if (rf.type === 'json_schema' && isObject(rf.json_schema)) {
    return compact({
      type: 'json_schema' as const,
      name: str(rf.json_schema.name),
      schema: isObject(rf.json_schema.schema) ? rf.json_schema.schema : {},
      strict: rf.json_schema.strict === true ? true : undefined,
    });
  }
  return undefined;
}

function stopList(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) ? stop.map(String) : undefined;
}

/** Request fields chat and legacy completions name alike. */
function decodeSharedFields(body: Json) {
  return {
    model: String(body.model ?? ''),
    stream: body.stream === true,
    temperature: num(body.temperature),
    topP: num(body.top_p),
    stop: stopList(body.stop),
    presencePenalty: num(body.presence_penalty),
    frequencyPenalty: num(body.frequency_penalty),
    seed: num(body.seed),
  };
}

function decodeChatRequest(raw: unknown): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const { system, messages } = decodeMessages(body.messages);
  const effort = str(body.reasoning_effort);
  return compact<CanonicalRequest>({
    ...decodeSharedFields(body),
    system: system.length ? system : undefined,
    messages,
    tools: body.tools
      ? asArray<Json>(body.tools)
          .filter((t) => t.type === 'function' && isObject(t.function))
          .map((t) => decodeFunctionTool(t.function))
      : undefined,
    toolChoice: decodeOpenaiToolChoice(body.tool_choice, (tc) => (str(tc.function?.name) ?? str(tc.name)) || undefined),
    parallelToolCalls: typeof body.parallel_tool_calls === 'boolean' ? body.parallel_tool_calls : undefined,
    maxTokens: num(body.max_completion_tokens) ?? num(body.max_tokens),
    topK: num(body.top_k),
    reasoning: effort ? { effort: effort as NonNullable<CanonicalRequest['reasoning']>['effort'] } : undefined,
    responseFormat: decodeOpenaiResponseFormat(body.response_format),
  });
}

function encodeUserPart(p: InputPart): Json | undefined {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image': {
      const url = mediaToUrl(p.source);
      return url ? { type: 'image_url', image_url: compact({ url, detail: p.detail }) } : undefined;
    }
    case 'document': {
      const file = encodeOpenaiFile(p, { urls: false });
      if (file) return { type: 'file', file };
      // Chat files must be PDFs: inline text documents as text, URL documents cannot be attached.
      if (p.source.kind === 'text') return { type: 'text', text: titledText(p.title, p.source.text) };
      return undefined;
    }
  }
}

/** Chat wants null content beside tool calls, but '' when the turn is empty. */
function assistantMessage(parts: ReadonlyArray<ContentPart>, reasoning?: string): Json {
  const text = textOf(parts);
  const calls = parts.filter(isToolCall);
  const msg: Json = { role: 'assistant', content: text.length || !calls.length ? text : null };
  if (reasoning) msg.reasoning_content = reasoning;
  if (calls.length)
    msg.tool_calls = calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments || '{}' },
    }));
  return msg;
}

function userContent(parts: InputPart[]): string | Json[] {
  if (parts.length === 1 && parts[0].type === 'text') return parts[0].text;
  return parts.map(encodeUserPart).filter((p): p is Json => !!p);
}

function encodeChatMessages(req: CanonicalRequest): Json[] {
  const out: Json[] = [];
  if (req.system?.length)
    out.push({
      role: 'system',
      content: req.system.length === 1 ? req.system[0].text : req.system.map((s) => ({ type: 'text', text: s.text })),
    });
  for (const m of req.messages) {
    if (m.role === 'assistant') {
      out.push(assistantMessage(m.content));
      continue;
    }
    const rest: InputPart[] = [];
    for (const p of m.content) {
      if (p.type === 'tool_result') {
        const texts = p.content.filter((c): c is TextPart => c.type === 'text');
        out.push({
          role: 'tool',
          tool_call_id: p.callId,
          content: texts.length === 1 ? texts[0].text : texts.map((t) => ({ type: 'text', text: t.text })),
        });
      } else if (p.type === 'text' || p.type === 'image' || p.type === 'document') rest.push(p);
    }
    if (rest.length) out.push({ role: 'user', content: userContent(rest) });
  }
  return out;
}

export function encodeOpenaiResponseFormat(rf: ResponseFormat | undefined): Json | undefined {
  if (!rf) return undefined;
  if (rf.type !== 'json_schema') return { type: rf.type };
  return { type: 'json_schema', json_schema: encodeJsonSchema(rf) };
}

/** Request fields chat and legacy completions name alike. */
function encodeSharedFields(req: CanonicalRequest): Json {
  return {
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop?.length ? req.stop : undefined,
    presence_penalty: req.presencePenalty,
    frequency_penalty: req.frequencyPenalty,
    seed: req.seed,
  };
}

/** Without include_usage OpenAI streams carry no token counts. */
function withStreaming(body: Json, stream: boolean): Json {
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function encodeChatRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const effort = reasoningEffortOf(req.reasoning);
  const body: Json = { model: req.model, messages: encodeChatMessages(req) };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: compact({ name: t.name, description: t.description, parameters: toolParameters(t), strict: t.strict }),
    }));
    if (req.toolChoice)
      body.tool_choice =
        req.toolChoice.type === 'tool'
          ? { type: 'function', function: { name: req.toolChoice.name } }
          : req.toolChoice.type;
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  // Reasoning models reject max_tokens; many OpenAI-compatible servers only know max_tokens.
  if (req.maxTokens !== undefined) body[effort ? 'max_completion_tokens' : 'max_tokens'] = req.maxTokens;
  Object.assign(
    body,
    compact({
      ...encodeSharedFields(req),
      reasoning_effort: effort === 'auto' ? 'medium' : effort,
      response_format: encodeOpenaiResponseFormat(req.responseFormat),
    }),
  );
  return withStreaming(body, opts.stream ?? req.stream);
}

/** Chat and legacy completions responses wrap their first choice alike. */
function decodeEnvelope(body: Json, content: CanonicalResponse['content'], finishReason: unknown): CanonicalResponse {
  return compact<CanonicalResponse>({
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: num(body.created),
    content,
    stopReason: decodeChatStop(finishReason),
    usage: openaiUsage(body.usage),
  });
}

function encodeEnvelope(
  res: CanonicalResponse,
  opts: { model?: string } | undefined,
  legacy: boolean,
  choice: Json,
): Json {
  return {
    id: prefixedId(res.id, legacy ? 'cmpl-' : 'chatcmpl-'),
    object: legacy ? 'text_completion' : 'chat.completion',
    created: res.created ?? unixSeconds(),
    model: opts?.model ?? res.model,
    choices: [choice],
    usage: encodeOpenaiUsage(res.usage),
  };
}

function decodeChatResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const choice = asArray<Json>(body.choices)[0] ?? {};
  const m = isObject(choice.message) ? choice.message : {};
  const content: CanonicalResponse['content'] = [];
  const reasoning = decodeReasoningField(m);
  if (reasoning) content.push(reasoning);
  const text = str(m.content) ?? str(m.refusal);
  if (text) content.push({ type: 'text', text });
  content.push(...decodeToolCalls(m.tool_calls));
  return decodeEnvelope(body, content, choice.finish_reason);
}

function encodeChatResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  const reasoning = res.content
    .filter((p): p is ReasoningPart => p.type === 'reasoning')
    .map((p) => p.text)
    .join('');
  const message = assistantMessage(res.content, reasoning);
  const stop = toolAwareStop(res.stopReason, res.content.some(isToolCall));
  return encodeEnvelope(res, opts, false, { index: 0, message, logprobs: null, finish_reason: encodeChatStop(stop) });
}

/** Shared by chat and legacy completions: both stream `data:` chunks ending with [DONE]. */
class OpenaiStreamDecoder implements StreamDecoder {
  private started = false;

  constructor(private readonly legacy: boolean) {}

  frame(f: Frame, sink: StreamSink): void {
    if (f.data === '[DONE]') return sink({ type: 'done' });
    const e = frameJson(f);
    if (e === undefined) return;
    if (isObject(e.error)) return sink({ type: 'error', error: decodeAnyError(e) });
    if (!this.started) {
      this.started = true;
      sink(
        compact({
          type: 'start' as const,
          id: String(e.id ?? ''),
          model: String(e.model ?? ''),
          created: num(e.created),
        }),
      );
    }
    const choice = asArray<Json>(e.choices).find((c) => (c.index ?? 0) === 0);
    if (choice) {
      if (this.legacy) {
        if (choice.text) sink({ type: 'text', text: String(choice.text) });
      } else if (isObject(choice.delta)) {
        const d = choice.delta;
        const reasoning = str(d.reasoning_content) ?? str(d.reasoning);
        if (reasoning) sink({ type: 'reasoning', text: reasoning });
        if (typeof d.content === 'string' && d.content) sink({ type: 'text', text: d.content });
        for (const tc of asArray<Json>(d.tool_calls)) {
          sink(
            compact({
              type: 'tool_call' as const,
              index: num(tc.index) ?? 0,
              id: str(tc.id),
              name: str(tc.function?.name),
              arguments: str(tc.function?.arguments) || undefined,
            }),
          );
        }
      }
      if (choice.finish_reason) sink({ type: 'finish', reason: decodeChatStop(choice.finish_reason) });
    }
    if (isObject(e.usage)) sink({ type: 'usage', usage: openaiUsage(e.usage)! });
  }
}

class OpenaiStreamEncoder extends StreamEncoderBase {
  private id = '';
  private model = '';
  private created = 0;
  private sawTool = false;

  constructor(
    private readonly legacy: boolean,
    private readonly opts: StreamEncoderOptions,
  ) {
    super();
  }

  protected override start(ev: StartEvent): string {
    return this.begin(ev.id, ev.model, ev.created);
  }

  protected override error(error: CanonicalError): string {
    return sseEvent(undefined, openaiErrorBody(error));
  }

  protected override content(ev: ContentEvent): string {
    switch (ev.type) {
      case 'text':
        return ev.text ? this.begin() + this.chunk(this.legacy ? ev.text : { content: ev.text }) : '';
      case 'reasoning':
        return ev.text && !this.legacy ? this.begin() + this.chunk({ reasoning_content: ev.text }) : '';
      case 'tool_call': {
        if (this.legacy) return '';
        this.sawTool = true;
        const call: Json = { index: ev.index };
        if (ev.id !== undefined || ev.name !== undefined) {
          call.id = ev.id ?? `call_${ev.index}`;
          call.type = 'function';
          call.function = { name: ev.name ?? '', arguments: ev.arguments ?? '' };
        } else call.function = { arguments: ev.arguments ?? '' };
        return this.begin() + this.chunk({ tool_calls: [call] });
      }
    }
  }

  protected override closeStream(): string {
    const reason = encodeChatStop(toolAwareStop(this.stop, this.sawTool));
    let out = this.chunk(this.legacy ? '' : {}, reason);
    if (this.usage)
      out += sseEvent(undefined, {
        id: this.id,
        object: this.object(),
        created: this.created,
        model: this.model,
        choices: [],
        usage: encodeOpenaiUsage(this.usage),
      });
    return out + 'data: [DONE]\n\n';
  }

  private object(): string {
    return this.legacy ? 'text_completion' : 'chat.completion.chunk';
  }

  private begin(id?: string, model?: string, created?: number): string {
    if (this.started) return '';
    this.started = true;
    this.id = prefixedId(id || newId(''), this.legacy ? 'cmpl-' : 'chatcmpl-');
    this.model = this.opts.model ?? model ?? '';
    this.created = created ?? unixSeconds();
    return this.legacy ? '' : this.chunk({ role: 'assistant', content: '' });
  }

  private chunk(delta: Json | string, finish: string | null = null): string {
    const choice = this.legacy
      ? { text: delta, index: 0, logprobs: null, finish_reason: finish }
      : { index: 0, delta, logprobs: null, finish_reason: finish };
    return sseEvent(undefined, {
      id: this.id,
      object: this.object(),
      created: this.created,
      model: this.model,
      choices: [choice],
    });
  }
}

export const openaiChatCodec: Codec = {
  format: 'openai-chat',
  decodeRequest: decodeChatRequest,
  encodeRequest: encodeChatRequest,
  decodeResponse: decodeChatResponse,
  encodeResponse: encodeChatResponse,
  usageOf: (body) => (isObject(body) ? openaiUsage(body.usage) : undefined),
  createFramer: () => new SseFramer(),
  createStreamDecoder: () => new OpenaiStreamDecoder(false),
  createStreamEncoder: (opts = {}) => new OpenaiStreamEncoder(false, opts),
  decodeError: decodeAnyError,
  encodeError: openaiErrorBody,
};

/** Legacy text completions: a prompt in, text out; no roles, tools or reasoning. */
function decodeCompletionsRequest(raw: unknown): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const prompt = Array.isArray(body.prompt)
    ? body.prompt.filter((p) => typeof p === 'string').join('\n')
    : String(body.prompt ?? '');
  return compact<CanonicalRequest>({
    ...decodeSharedFields(body),
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    maxTokens: num(body.max_tokens),
  });
}

function encodeCompletionsRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const segments: string[] = [];
  if (req.system?.length) segments.push(req.system.map((s) => s.text).join('\n'));
  for (const m of req.messages) {
    const text = textOf(m.content);
    if (text) segments.push(text);
  }
  const body: Json = compact({
    model: req.model,
    prompt: segments.join('\n\n'),
    max_tokens: req.maxTokens,
    ...encodeSharedFields(req),
  });
  return withStreaming(body, opts.stream ?? req.stream);
}

function decodeCompletionsResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const choice = asArray<Json>(body.choices)[0] ?? {};
  return decodeEnvelope(body, choice.text ? [{ type: 'text', text: String(choice.text) }] : [], choice.finish_reason);
}

function encodeCompletionsResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  const finish = encodeChatStop(res.stopReason === 'tool_use' ? 'end_turn' : res.stopReason);
  return encodeEnvelope(res, opts, true, {
    text: textOf(res.content),
    index: 0,
    logprobs: null,
    finish_reason: finish,
  });
}

export const openaiCompletionsCodec: Codec = {
  ...openaiChatCodec,
  format: 'openai-completions',
  decodeRequest: decodeCompletionsRequest,
  encodeRequest: encodeCompletionsRequest,
  decodeResponse: decodeCompletionsResponse,
  encodeResponse: encodeCompletionsResponse,
  createStreamDecoder: () => new OpenaiStreamDecoder(true),
  createStreamEncoder: (opts = {}) => new OpenaiStreamEncoder(true, opts),
};
