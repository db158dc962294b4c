import type {
  CanonicalRequest, CanonicalResponse, ContentPart, DocumentPart, ImagePart, Message, ReasoningPart, ResponseFormat,
  StopReason, StreamEvent, StreamSink, TextPart, ToolCallPart, ToolChoice, Usage,
} from '../canonical';
import type { Codec, EncodeRequestOptions, StreamDecoder, StreamEncoder, StreamEncoderOptions } from '../codec';
import { mergeUsage } from '../codec';
import { decodeAnyError, openaiErrorBody } from '../errors';
import { SseFramer, sseEvent, type Frame } from '../framing';
import { applyModelSuffix, reasoningEffortOf } from '../thinking';
import { asArray, compact, dataUrl, isObject, mediaFromUrl, newId, num, str, textOf, type Json } from '../util';

export function decodeChatStop(reason: unknown): StopReason {
  switch (reason) {
    case 'length': return 'max_tokens';
    case 'tool_calls':
    case 'function_call': return 'tool_use';
    case 'content_filter': return 'content_filter';
    default: return 'end_turn';
  }
}

export function encodeChatStop(reason: StopReason): string {
  switch (reason) {
    case 'max_tokens': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'content_filter':
    case 'refusal': return 'content_filter';
    default: return 'stop';
  }
}

/** Chat and legacy completions share the usage object. */
export function openaiUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.prompt_tokens) ?? 0, outputTokens: num(u.completion_tokens) ?? 0 };
  const cached = num(u.prompt_tokens_details?.cached_tokens);
  const reasoning = num(u.completion_tokens_details?.reasoning_tokens);
  if (cached !== undefined) usage.cachedTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}

export function encodeOpenaiUsage(u: Usage | undefined): Json {
  const out: Json = { prompt_tokens: u?.inputTokens ?? 0, completion_tokens: u?.outputTokens ?? 0, total_tokens: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0) };
  if (u?.cachedTokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cachedTokens };
  if (u?.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}

function decodeUserPart(p: Json): TextPart | ImagePart | DocumentPart | undefined {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: String(p.text ?? '') };
    case 'image_url': {
      const url = typeof p.image_url === 'string' ? p.image_url : str(p.image_url?.url);
      return url ? compact<ImagePart>({ type: 'image', source: mediaFromUrl(url), detail: str(p.image_url?.detail) }) : undefined;
    }
    case 'file': {
      const f = isObject(p.file) ? p.file : {};
      if (typeof f.file_data === 'string') {
        const source = f.file_data.startsWith('data:') ? mediaFromUrl(f.file_data) : { kind: 'base64' as const, mediaType: 'application/pdf', data: f.file_data };
        return compact<DocumentPart>({ type: 'document', source, title: str(f.filename) });
      }
      if (typeof f.file_id === 'string') return compact<DocumentPart>({ type: 'document', source: { kind: 'file', fileId: f.file_id }, title: str(f.filename) });
      return undefined;
    }
    default:
      // input_audio has no counterpart in the other formats.
      return undefined;
  }
}

function decodeUserContent(content: unknown): Array<TextPart | ImagePart | DocumentPart> {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return asArray<Json>(content).map(decodeUserPart).filter((p): p is TextPart | ImagePart | DocumentPart => !!p);
}

function decodeReasoningField(m: Json): ReasoningPart | undefined {
  // Not in OpenAI's schema, but the de-facto field of OpenAI-compatible reasoning models.
  const text = str(m.reasoning_content) ?? str(m.reasoning);
  return text ? { type: 'reasoning', text } : undefined;
}

function decodeToolCalls(calls: unknown): ToolCallPart[] {
  return asArray<Json>(calls)
    .filter((c) => isObject(c.function))
    .map((c) => ({ type: 'tool_call', id: String(c.id ?? ''), name: String(c.function.name ?? ''), arguments: String(c.function.arguments ?? '') }));
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
            if (p.type === 'text' || p.type === 'refusal') content.push({ type: 'text', text: String(p.text ?? p.refusal ?? '') });
          }
        }
        content.push(...decodeToolCalls(m.tool_calls));
        messages.push({ role: 'assistant', content });
        break;
      }
      case 'tool': {
        const result = { type: 'tool_result' as const, callId: String(m.tool_call_id ?? ''), content: decodeUserContent(m.content) };
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

function decodeToolChoice(tc: unknown): ToolChoice | undefined {
  if (tc === 'auto' || tc === 'none' || tc === 'required') return { type: tc };
  if (isObject(tc)) {
    const name = str(tc.function?.name) ?? str(tc.name);
    if (name) return { type: 'tool', name };
  }
  return undefined;
}

export function decodeOpenaiResponseFormat(rf: unknown): ResponseFormat | undefined {
  if (!isObject(rf)) return undefined;
  if (rf.type === 'json_object' || rf.type === 'text') return { type: rf.type };
  if (rf.type === 'json_schema' && isObject(rf.json_schema)) {
    return compact({ type: 'json_schema' as const, name: str(rf.json_schema.name), schema: isObject(rf.json_schema.schema) ? rf.json_schema.schema : {}, strict: rf.json_schema.strict === true ? true : undefined });
  }
  return undefined;
}

function stopList(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) ? stop.map(String) : undefined;
}

function decodeChatRequest(raw: unknown): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const { system, messages } = decodeMessages(body.messages);
  const effort = str(body.reasoning_effort);
  return compact<CanonicalRequest>({
    model: String(body.model ?? ''),
    stream: body.stream === true,
    system: system.length ? system : undefined,
    messages,
    tools: body.tools
      ? asArray<Json>(body.tools).filter((t) => t.type === 'function' && isObject(t.function)).map((t) => compact({ name: String(t.function.name), description: str(t.function.description), parameters: isObject(t.function.parameters) ? t.function.parameters : undefined, strict: typeof t.function.strict === 'boolean' ? t.function.strict : undefined }))
      : undefined,
    toolChoice: decodeToolChoice(body.tool_choice),
    parallelToolCalls: typeof body.parallel_tool_calls === 'boolean' ? body.parallel_tool_calls : undefined,
    maxTokens: num(body.max_completion_tokens) ?? num(body.max_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    topK: num(body.top_k),
    stop: stopList(body.stop),
    presencePenalty: num(body.presence_penalty),
    frequencyPenalty: num(body.frequency_penalty),
    seed: num(body.seed),
    reasoning: effort ? { effort: effort as NonNullable<CanonicalRequest['reasoning']>['effort'] } : undefined,
    responseFormat: decodeOpenaiResponseFormat(body.response_format),
  });
}

function encodeUserPart(p: TextPart | ImagePart | DocumentPart): Json | undefined {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image': {
      const url = p.source.kind === 'url' ? p.source.url : p.source.kind === 'base64' ? dataUrl(p.source.mediaType, p.source.data) : undefined;
      return url ? { type: 'image_url', image_url: compact({ url, detail: p.detail }) } : undefined;
    }
    case 'document':
      if (p.source.kind === 'base64') return { type: 'file', file: compact({ filename: p.title ?? 'document.pdf', file_data: dataUrl(p.source.mediaType, p.source.data) }) };
      if (p.source.kind === 'file') return { type: 'file', file: compact({ file_id: p.source.fileId, filename: p.title }) };
      // Chat files must be PDFs: inline text documents as text, URL documents cannot be attached.
      if (p.source.kind === 'text') return { type: 'text', text: p.title ? `${p.title}\n\n${p.source.text}` : p.source.text };
      return undefined;
  }
}

function userContent(parts: Array<TextPart | ImagePart | DocumentPart>): string | Json[] {
  if (parts.length === 1 && parts[0].type === 'text') return parts[0].text;
  return parts.map(encodeUserPart).filter((p): p is Json => !!p);
}

function encodeChatMessages(req: CanonicalRequest): Json[] {
  const out: Json[] = [];
  if (req.system?.length) out.push({ role: 'system', content: req.system.length === 1 ? req.system[0].text : req.system.map((s) => ({ type: 'text', text: s.text })) });
  for (const m of req.messages) {
    if (m.role === 'assistant') {
      const text = textOf(m.content);
      const calls = m.content.filter((p): p is ToolCallPart => p.type === 'tool_call');
      const msg: Json = { role: 'assistant', content: text.length || !calls.length ? text : null };
      if (calls.length) msg.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
      out.push(msg);
      continue;
    }
    const rest: Array<TextPart | ImagePart | DocumentPart> = [];
    for (const p of m.content) {
      if (p.type === 'tool_result') {
        const texts = p.content.filter((c): c is TextPart => c.type === 'text');
        out.push({ role: 'tool', tool_call_id: p.callId, content: texts.length === 1 ? texts[0].text : texts.map((t) => ({ type: 'text', text: t.text })) });
      } else if (p.type === 'text' || p.type === 'image' || p.type === 'document') rest.push(p);
    }
    if (rest.length) out.push({ role: 'user', content: userContent(rest) });
  }
  return out;
}

export function encodeOpenaiResponseFormat(rf: ResponseFormat | undefined): Json | undefined {
  if (!rf) return undefined;
  if (rf.type !== 'json_schema') return { type: rf.type };
  return { type: 'json_schema', json_schema: compact({ name: rf.name ?? 'response', schema: rf.schema, strict: rf.strict }) };
}

function encodeChatRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const effort = reasoningEffortOf(req.reasoning);
  const body: Json = { model: req.model, messages: encodeChatMessages(req) };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({ type: 'function', function: compact({ name: t.name, description: t.description, parameters: t.parameters ?? { type: 'object', properties: {} }, strict: t.strict }) }));
    if (req.toolChoice) body.tool_choice = req.toolChoice.type === 'tool' ? { type: 'function', function: { name: req.toolChoice.name } } : req.toolChoice.type;
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  // Reasoning models reject max_tokens; many OpenAI-compatible servers only know max_tokens.
  if (req.maxTokens !== undefined) body[effort ? 'max_completion_tokens' : 'max_tokens'] = req.maxTokens;
  Object.assign(body, compact({
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop?.length ? req.stop : undefined,
    presence_penalty: req.presencePenalty,
    frequency_penalty: req.frequencyPenalty,
    seed: req.seed,
    reasoning_effort: effort === 'auto' ? 'medium' : effort,
    response_format: encodeOpenaiResponseFormat(req.responseFormat),
  }));
  if (opts.stream ?? req.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
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
  return compact<CanonicalResponse>({
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: num(body.created),
    content,
    stopReason: decodeChatStop(choice.finish_reason),
    usage: openaiUsage(body.usage),
  });
}

function responseId(id: string, prefix: string): string {
  return id.startsWith(prefix) ? id : `${prefix}${id}`;
}

function effectiveStop(res: CanonicalResponse): StopReason {
  return res.stopReason === 'end_turn' && res.content.some((p) => p.type === 'tool_call') ? 'tool_use' : res.stopReason;
}

function encodeChatResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  const text = textOf(res.content);
  const calls = res.content.filter((p): p is ToolCallPart => p.type === 'tool_call');
  const reasoning = res.content.filter((p): p is ReasoningPart => p.type === 'reasoning').map((p) => p.text).join('');
  const message: Json = { role: 'assistant', content: text.length || !calls.length ? text : null };
  if (reasoning) message.reasoning_content = reasoning;
  if (calls.length) message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
  return {
    id: responseId(res.id, 'chatcmpl-'),
    object: 'chat.completion',
    created: res.created ?? Math.floor(Date.now() / 1000),
    model: opts?.model ?? res.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: encodeChatStop(effectiveStop(res)) }],
    usage: encodeOpenaiUsage(res.usage),
  };
}

/** Shared by chat and legacy completions: both stream `data:` chunks ending with [DONE]. */
class OpenaiStreamDecoder implements StreamDecoder {
  private started = false;

  constructor(private readonly legacy: boolean) {}

  frame(f: Frame, sink: StreamSink): void {
    if (f.data === '[DONE]') return sink({ type: 'done' });
    let e: Json;
    try {
      e = JSON.parse(f.data);
    } catch {
      return;
    }
    if (isObject(e.error)) return sink({ type: 'error', error: decodeAnyError(e) });
    if (!this.started) {
      this.started = true;
      sink(compact({ type: 'start' as const, id: String(e.id ?? ''), model: String(e.model ?? ''), created: num(e.created) }));
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
          sink(compact({ type: 'tool_call' as const, index: num(tc.index) ?? 0, id: str(tc.id), name: str(tc.function?.name), arguments: str(tc.function?.arguments) || undefined }));
        }
      }
      if (choice.finish_reason) sink({ type: 'finish', reason: decodeChatStop(choice.finish_reason) });
    }
    if (isObject(e.usage)) sink({ type: 'usage', usage: openaiUsage(e.usage)! });
  }
}

class OpenaiStreamEncoder implements StreamEncoder {
  private started = false;
  private finished = false;
  private id = '';
  private model = '';
  private created = 0;
  private stop: StopReason = 'end_turn';
  private sawTool = false;
  private usage: Usage | undefined;

  constructor(private readonly legacy: boolean, private readonly opts: StreamEncoderOptions) {}

  write(ev: StreamEvent): string {
    if (this.finished) return '';
    switch (ev.type) {
      case 'start':
        if (ev.usage) this.usage = mergeUsage(this.usage, ev.usage);
        return this.begin(ev.id, ev.model, ev.created);
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
      case 'finish':
        this.stop = ev.reason;
        return '';
      case 'usage':
        this.usage = mergeUsage(this.usage, ev.usage);
        return '';
      case 'done':
        return this.end();
      case 'error':
        this.finished = true;
        return sseEvent(undefined, openaiErrorBody(ev.error));
    }
  }

  end(): string {
    if (this.finished || !this.started) return '';
    this.finished = true;
    const reason = encodeChatStop(this.sawTool && this.stop === 'end_turn' ? 'tool_use' : this.stop);
    let out = this.chunk(this.legacy ? '' : {}, reason);
    if (this.usage) out += sseEvent(undefined, { id: this.id, object: this.object(), created: this.created, model: this.model, choices: [], usage: encodeOpenaiUsage(this.usage) });
    return out + 'data: [DONE]\n\n';
  }

  private object(): string {
    return this.legacy ? 'text_completion' : 'chat.completion.chunk';
  }

  private begin(id?: string, model?: string, created?: number): string {
    if (this.started) return '';
    this.started = true;
    this.id = responseId(id || newId(''), this.legacy ? 'cmpl-' : 'chatcmpl-');
    this.model = this.opts.model ?? model ?? '';
    this.created = created ?? Math.floor(Date.now() / 1000);
    return this.legacy ? '' : this.chunk({ role: 'assistant', content: '' });
  }

  private chunk(delta: Json | string, finish: string | null = null): string {
    const choice = this.legacy
      ? { text: delta, index: 0, logprobs: null, finish_reason: finish }
      : { index: 0, delta, logprobs: null, finish_reason: finish };
    return sseEvent(undefined, { id: this.id, object: this.object(), created: this.created, model: this.model, choices: [choice] });
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
  const prompt = Array.isArray(body.prompt) ? body.prompt.filter((p) => typeof p === 'string').join('\n') : String(body.prompt ?? '');
  return compact<CanonicalRequest>({
    model: String(body.model ?? ''),
    stream: body.stream === true,
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    maxTokens: num(body.max_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    stop: stopList(body.stop),
    presencePenalty: num(body.presence_penalty),
    frequencyPenalty: num(body.frequency_penalty),
    seed: num(body.seed),
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
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop?.length ? req.stop : undefined,
    presence_penalty: req.presencePenalty,
    frequency_penalty: req.frequencyPenalty,
    seed: req.seed,
  });
  if (opts.stream ?? req.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function decodeCompletionsResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const choice = asArray<Json>(body.choices)[0] ?? {};
  return compact<CanonicalResponse>({
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: num(body.created),
    content: choice.text ? [{ type: 'text', text: String(choice.text) }] : [],
    stopReason: decodeChatStop(choice.finish_reason),
    usage: openaiUsage(body.usage),
  });
}

function encodeCompletionsResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  return {
    id: responseId(res.id, 'cmpl-'),
    object: 'text_completion',
    created: res.created ?? Math.floor(Date.now() / 1000),
    model: opts?.model ?? res.model,
    choices: [{ text: textOf(res.content), index: 0, logprobs: null, finish_reason: encodeChatStop(res.stopReason === 'tool_use' ? 'end_turn' : res.stopReason) }],
    usage: encodeOpenaiUsage(res.usage),
  };
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
