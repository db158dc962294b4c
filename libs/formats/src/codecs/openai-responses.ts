import type {
  CanonicalError,
  CanonicalRequest,
  CanonicalResponse,
  ContentPart,
  ImagePart,
  Message,
  ReasoningConfig,
  ReasoningPart,
  ResponseFormat,
  Signature,
  StopReason,
  StreamSink,
  TextPart,
  Usage,
} from '../canonical';
import type { Codec, EncodeRequestOptions, StreamDecoder, StreamEncoderOptions } from '../codec';
import { decodeAnyError, openaiErrorBody } from '../error-envelopes';
import { SseFramer, sseEvent, type Frame } from '../framing';
import { applyModelSuffix, reasoningEffortOf } from '../thinking';
import {
  asArray,
  compact,
  dataUrl,
  isObject,
  mediaFromUrl,
  newId,
  num,
  ownSignature,
  prefixedId,
  str,
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

export function responsesUsage(u: unknown): Usage | undefined {
  return decodeOpenaiUsage(u, {
    input: 'input_tokens',
    output: 'output_tokens',
    inputDetails: 'input_tokens_details',
    outputDetails: 'output_tokens_details',
  });
}

/** Unlike Chat, Responses always states the detail objects, zero when unknown. */
function encodeUsage(u: Usage | undefined): Json {
  return {
    input_tokens: u?.inputTokens ?? 0,
    input_tokens_details: { cached_tokens: u?.cachedTokens ?? 0 },
    output_tokens: u?.outputTokens ?? 0,
    output_tokens_details: { reasoning_tokens: u?.reasoningTokens ?? 0 },
    total_tokens: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0),
  };
}

function decodeStatus(status: unknown, incomplete: unknown, sawTool: boolean): StopReason {
  if (status === 'incomplete') {
    const reason = isObject(incomplete) ? incomplete.reason : undefined;
    return reason === 'content_filter' ? 'content_filter' : 'max_tokens';
  }
  if (status === 'failed') return 'error';
  return sawTool ? 'tool_use' : 'end_turn';
}

function encodeStatus(reason: StopReason): { status: string; incomplete_details: Json | null } {
  if (reason === 'max_tokens') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (reason === 'content_filter' || reason === 'refusal')
    return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

function decodeInputPart(p: Json): InputPart | undefined {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return { type: 'text', text: String(p.text ?? '') };
    case 'refusal':
      return { type: 'text', text: String(p.refusal ?? '') };
    case 'input_image':
      if (typeof p.image_url === 'string')
        return compact<ImagePart>({ type: 'image', source: mediaFromUrl(p.image_url), detail: str(p.detail) });
      if (typeof p.file_id === 'string')
        return compact<ImagePart>({
          type: 'image',
          source: { kind: 'file', fileId: p.file_id },
          detail: str(p.detail),
        });
      return undefined;
    case 'input_file':
      return decodeOpenaiFile(p, { urls: true });
    default:
      return undefined;
  }
}

function decodeParts(content: unknown): InputPart[] {
  return decodeInputContent(content, decodeInputPart);
}

function decodeReasoningItem(item: Json): ReasoningPart {
  const text =
    asArray<Json>(item.summary)
      .map((s) => String(s.text ?? ''))
      .join('\n\n') ||
    asArray<Json>(item.content)
      .map((s) => String(s.text ?? ''))
      .join('');
  return compact<ReasoningPart>({
    type: 'reasoning',
    text,
    id: str(item.id),
    signature:
      typeof item.encrypted_content === 'string'
        ? { format: 'openai-responses', value: item.encrypted_content }
        : undefined,
  });
}

function decodeInput(input: unknown): { system: TextPart[]; messages: Message[] } {
  const system: TextPart[] = [];
  const messages: Message[] = [];
  const push = (role: Message['role'], part: ContentPart, sameKindOnly?: (p: ContentPart) => boolean) => {
    const prev = messages[messages.length - 1];
    if (prev?.role === role && (!sameKindOnly || prev.content.every(sameKindOnly))) prev.content.push(part);
    else messages.push({ role, content: [part] });
  };
  if (typeof input === 'string')
    return { system, messages: [{ role: 'user', content: [{ type: 'text', text: input }] }] };
  for (const item of asArray<Json>(input)) {
    if (!isObject(item)) continue;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const parts = decodeParts(item.content);
      if (item.role === 'system' || item.role === 'developer') {
        for (const p of parts) if (p.type === 'text') system.push(p);
      } else if (item.role === 'assistant') for (const p of parts) push('assistant', p);
      else messages.push({ role: 'user', content: parts });
    } else if (type === 'function_call') {
      push('assistant', {
        type: 'tool_call',
        id: String(item.call_id ?? item.id ?? ''),
        name: String(item.name ?? ''),
        arguments: String(item.arguments ?? ''),
      });
    } else if (type === 'function_call_output') {
      const content =
        typeof item.output === 'string' ? [{ type: 'text' as const, text: item.output }] : decodeParts(item.output);
      push(
        'user',
        { type: 'tool_result', callId: String(item.call_id ?? ''), content },
        (p) => p.type === 'tool_result',
      );
    } else if (type === 'reasoning') {
      push('assistant', decodeReasoningItem(item));
    }
    // item_reference and built-in tool items refer to server-side state other formats cannot see.
  }
  return { system, messages };
}

/** Unlike Chat's response_format, the schema sits flat in text.format and an explicit strict: false is kept. */
function decodeTextFormat(text: unknown): ResponseFormat | undefined {
  const f = isObject(text) && isObject(text.format) ? text.format : undefined;
  if (!f) return undefined;
  if (f.type === 'json_schema')
    return compact({
      type: 'json_schema' as const,
      name: str(f.name),
      schema: isObject(f.schema) ? f.schema : {},
      strict: typeof f.strict === 'boolean' ? f.strict : undefined,
    });
  if (f.type === 'json_object' || f.type === 'text') return { type: f.type };
  return undefined;
}

function decodeReasoning(r: unknown): ReasoningConfig | undefined {
  if (!isObject(r)) return undefined;
  const summary = str(r.summary) as ReasoningConfig['summary'];
  return compact<ReasoningConfig>({
    effort: str(r.effort) as ReasoningConfig['effort'],
    summary,
    includeThoughts: summary && summary !== 'none' ? true : undefined,
  });
}

function decodeRequest(raw: unknown): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const { system, messages } = decodeInput(body.input);
  if (typeof body.instructions === 'string' && body.instructions)
    system.unshift({ type: 'text', text: body.instructions });
  return compact<CanonicalRequest>({
    model: String(body.model ?? ''),
    stream: body.stream === true,
    system: system.length ? system : undefined,
    messages,
    tools: body.tools
      ? asArray<Json>(body.tools)
          .filter((t) => t.type === 'function')
          .map(decodeFunctionTool)
      : undefined,
    toolChoice: decodeOpenaiToolChoice(body.tool_choice, (tc) => (tc.type === 'function' ? str(tc.name) : undefined)),
    parallelToolCalls: typeof body.parallel_tool_calls === 'boolean' ? body.parallel_tool_calls : undefined,
    maxTokens: num(body.max_output_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    reasoning: decodeReasoning(body.reasoning),
    responseFormat: decodeTextFormat(body.text),
  });
}

function encodeInputPart(p: InputPart, role: Message['role']): Json | undefined {
  switch (p.type) {
    case 'text':
      return { type: role === 'assistant' ? 'output_text' : 'input_text', text: p.text };
    case 'image':
      if (p.source.kind === 'file')
        return compact({ type: 'input_image', file_id: p.source.fileId, detail: p.detail ?? 'auto' });
      return {
        type: 'input_image',
        image_url: p.source.kind === 'url' ? p.source.url : dataUrl(p.source.mediaType, p.source.data),
        detail: p.detail ?? 'auto',
      };
    case 'document': {
      const file = encodeOpenaiFile(p, { urls: true });
      if (file) return { type: 'input_file', ...file };
      return p.source.kind === 'text' ? { type: 'input_text', text: titledText(p.title, p.source.text) } : undefined;
    }
  }
}

/** This API's own encrypted reasoning, signed or redacted. */
function encryptedContent(p: { signature?: Signature; redacted?: Signature }): string | undefined {
  return ownSignature(p.signature, 'openai-responses') ?? ownSignature(p.redacted, 'openai-responses');
}

function encodeReasoningItem(p: ReasoningPart): Json | undefined {
  // Reasoning items are only accepted back with this API's own encrypted content.
  const encrypted = encryptedContent(p);
  return encrypted === undefined ? undefined : reasoningItem(p.id, p.text, encrypted);
}

function encodeInput(messages: Message[]): Json[] {
  const out: Json[] = [];
  for (const m of messages) {
    let pending: Json[] = [];
    const flush = () => {
      if (pending.length) out.push({ type: 'message', role: m.role, content: pending });
      pending = [];
    };
    for (const p of m.content) {
      if (p.type === 'tool_call') {
        flush();
        out.push({ type: 'function_call', call_id: p.id, name: p.name, arguments: p.arguments || '{}' });
      } else if (p.type === 'tool_result') {
        flush();
        const texts = p.content.filter((c): c is TextPart => c.type === 'text');
        const output =
          texts.length === p.content.length
            ? texts.map((t) => t.text).join('')
            : p.content.map((c) => encodeInputPart(c, 'user')).filter(Boolean);
        out.push({ type: 'function_call_output', call_id: p.callId, output });
      } else if (p.type === 'reasoning') {
        flush();
        const item = encodeReasoningItem(p);
        if (item) out.push(item);
      } else {
        const part = encodeInputPart(p, m.role);
        if (part) pending.push(part);
      }
    }
    flush();
  }
  return out;
}

function encodeRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const body: Json = { model: req.model };
  if (req.system?.length) body.instructions = req.system.map((s) => s.text).join('\n\n');
  body.input = encodeInput(req.messages);
  if (req.tools?.length) {
    // Responses treats an absent `strict` as true, which rejects loose schemas from other clients.
    body.tools = req.tools.map((t) =>
      compact({
        type: 'function',
        name: t.name,
        description: t.description,
        parameters: toolParameters(t),
        strict: t.strict ?? false,
      }),
    );
    if (req.toolChoice)
      body.tool_choice =
        req.toolChoice.type === 'tool' ? { type: 'function', name: req.toolChoice.name } : req.toolChoice.type;
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  Object.assign(body, compact({ max_output_tokens: req.maxTokens, temperature: req.temperature, top_p: req.topP }));
  if (req.reasoning) {
    const effort = reasoningEffortOf(req.reasoning);
    const summary = req.reasoning.summary ?? (req.reasoning.includeThoughts && effort !== 'none' ? 'auto' : undefined);
    const reasoning = compact({ effort: effort === 'auto' ? 'medium' : effort, summary });
    if (Object.keys(reasoning).length) body.reasoning = reasoning;
  }
  const rf = req.responseFormat;
  if (rf)
    body.text = {
      format: rf.type === 'json_schema' ? { type: 'json_schema', ...encodeJsonSchema(rf) } : { type: rf.type },
    };
  if (opts.stream ?? req.stream) body.stream = true;
  return body;
}

function decodeResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const content: CanonicalResponse['content'] = [];
  for (const item of asArray<Json>(body.output)) {
    if (item.type === 'reasoning') content.push(decodeReasoningItem(item));
    else if (item.type === 'message') {
      for (const p of asArray<Json>(item.content)) {
        const text = p.type === 'refusal' ? p.refusal : p.text;
        if (typeof text === 'string') content.push({ type: 'text', text });
      }
    } else if (item.type === 'function_call') {
      content.push({
        type: 'tool_call',
        id: String(item.call_id ?? item.id),
        name: String(item.name ?? ''),
        arguments: String(item.arguments ?? ''),
      });
    }
  }
  return compact<CanonicalResponse>({
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: num(body.created_at),
    content,
    stopReason: decodeStatus(
      body.status,
      body.incomplete_details,
      content.some((p) => p.type === 'tool_call'),
    ),
    usage: responsesUsage(body.usage),
  });
}

/** Output items as both the non-streamed body and response.completed carry them. */
function textItem(id: string, text: string): Json {
  return {
    type: 'message',
    id,
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  };
}

function reasoningItem(id: string | undefined, text: string, encrypted: string | undefined): Json {
  return compact({
    type: 'reasoning',
    id,
    summary: text ? [{ type: 'summary_text', text }] : [],
    encrypted_content: encrypted,
  });
}

function callItem(callId: string, name: string, args: string): Json {
  return { type: 'function_call', id: `fc_${callId}`, call_id: callId, name, arguments: args, status: 'completed' };
}

function responseObject(
  id: string,
  model: string,
  created: number,
  output: Json[],
  reason: StopReason | undefined,
  usage: Usage | undefined,
): Json {
  const done = reason !== undefined;
  const { status, incomplete_details } = done
    ? encodeStatus(reason)
    : { status: 'in_progress', incomplete_details: null };
  return {
    id,
    object: 'response',
    created_at: created,
    status,
    error: null,
    incomplete_details,
    model,
    output,
    parallel_tool_calls: true,
    usage: done ? encodeUsage(usage) : null,
  };
}

function encodeResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  const output: Json[] = [];
  let n = 0;
  for (const p of res.content) {
    if (p.type === 'text') {
      const prev = output[output.length - 1];
      if (prev?.type === 'message') prev.content[0].text += p.text;
      else output.push(textItem(`msg_${res.id}_${n++}`, p.text));
    } else if (p.type === 'reasoning') {
      output.push(reasoningItem(p.id ?? `rs_${res.id}_${n++}`, p.text, encryptedContent(p)));
    } else output.push(callItem(p.id, p.name, p.arguments || '{}'));
  }
  return responseObject(
    prefixedId(res.id, 'resp_'),
    opts?.model ?? res.model,
    res.created ?? unixSeconds(),
    output,
    res.stopReason,
    res.usage,
  );
}

class ResponsesStreamDecoder implements StreamDecoder {
  private tools = new Map<string, number>();
  private sawTool = false;

  frame(f: Frame, sink: StreamSink): void {
    const e = frameJson(f);
    if (e === undefined) return;
    switch (e.type ?? f.event) {
      case 'response.created': {
        const r = isObject(e.response) ? e.response : {};
        sink(
          compact({
            type: 'start' as const,
            id: String(r.id ?? ''),
            model: String(r.model ?? ''),
            created: num(r.created_at),
          }),
        );
        break;
      }
      case 'response.output_item.added': {
        const item = isObject(e.item) ? e.item : {};
        if (item.type === 'function_call') {
          const index = this.tools.size;
          this.tools.set(String(item.id ?? e.output_index), index);
          this.sawTool = true;
          sink(
            compact({
              type: 'tool_call' as const,
              index,
              id: String(item.call_id ?? item.id),
              name: String(item.name ?? ''),
              arguments: item.arguments || undefined,
            }),
          );
        }
        break;
      }
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (e.delta) sink({ type: 'text', text: String(e.delta) });
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        if (e.delta) sink({ type: 'reasoning', text: String(e.delta) });
        break;
      case 'response.reasoning_summary_part.added':
        if (num(e.summary_index)) sink({ type: 'reasoning', text: '\n\n' });
        break;
      case 'response.function_call_arguments.delta': {
        const index = this.tools.get(String(e.item_id ?? e.output_index));
        if (index !== undefined && e.delta) sink({ type: 'tool_call', index, arguments: String(e.delta) });
        break;
      }
      case 'response.output_item.done': {
        const item = isObject(e.item) ? e.item : {};
        if (item.type === 'reasoning' && typeof item.encrypted_content === 'string') {
          sink(
            compact({
              type: 'reasoning' as const,
              id: str(item.id),
              signature: { format: 'openai-responses' as const, value: item.encrypted_content },
            }),
          );
        }
        break;
      }
      case 'response.completed':
      case 'response.incomplete': {
        const r = isObject(e.response) ? e.response : {};
        const usage = responsesUsage(r.usage);
        if (usage) sink({ type: 'usage', usage });
        sink({ type: 'finish', reason: decodeStatus(r.status, r.incomplete_details, this.sawTool) });
        sink({ type: 'done' });
        break;
      }
      case 'response.failed': {
        const r = isObject(e.response) ? e.response : {};
        sink({ type: 'error', error: decodeAnyError(isObject(r.error) ? { error: r.error } : e) });
        break;
      }
      case 'error':
        sink({ type: 'error', error: decodeAnyError(e) });
        break;
    }
  }
}

type OpenItem =
  | { kind: 'text'; outputIndex: number; id: string; text: string }
  | { kind: 'reasoning'; outputIndex: number; id: string; text: string; encrypted?: string; summaryOpen: boolean }
  | { kind: 'tool'; outputIndex: number; id: string; callId: string; name: string; args: string };

class ResponsesStreamEncoder extends StreamEncoderBase {
  private seq = 0;
  private id = '';
  private model = '';
  private created = 0;
  private output: Json[] = [];
  private open: OpenItem | undefined;
  private tools = new Map<number, Extract<OpenItem, { kind: 'tool' }>>();

  constructor(private readonly opts: StreamEncoderOptions) {
    super();
  }

  protected override start(ev: StartEvent): string {
    return this.begin(ev.id, ev.model, ev.created);
  }

  protected override error(error: CanonicalError): string {
    const body = openaiErrorBody(error).error as Json;
    return this.event('error', { code: body.code ?? null, message: error.message, param: null });
  }

  protected override content(ev: ContentEvent): string {
    switch (ev.type) {
      case 'text': {
        if (!ev.text) return '';
        let out = this.begin();
        if (this.open?.kind !== 'text') {
          out += this.close();
          const item: OpenItem = {
            kind: 'text',
            outputIndex: this.output.length,
            id: `msg_${this.id.slice(5)}_${this.output.length}`,
            text: '',
          };
          this.open = item;
          this.output.push(null as unknown as Json);
          out += this.event('response.output_item.added', {
            output_index: item.outputIndex,
            item: { type: 'message', id: item.id, status: 'in_progress', role: 'assistant', content: [] },
          });
          out += this.event('response.content_part.added', {
            item_id: item.id,
            output_index: item.outputIndex,
            content_index: 0,
            part: { type: 'output_text', text: '', annotations: [] },
          });
        }
        const item = this.open as Extract<OpenItem, { kind: 'text' }>;
        item.text += ev.text;
        return (
          out +
          this.event('response.output_text.delta', {
            item_id: item.id,
            output_index: item.outputIndex,
            content_index: 0,
            delta: ev.text,
          })
        );
      }
      case 'reasoning': {
        const sig = encryptedContent(ev);
        if (!ev.text && !sig) return '';
        let out = this.begin();
        if (this.open?.kind !== 'reasoning') {
          out += this.close();
          const item: OpenItem = {
            kind: 'reasoning',
            outputIndex: this.output.length,
            id: ev.id ?? `rs_${this.id.slice(5)}_${this.output.length}`,
            text: '',
            summaryOpen: false,
          };
          this.open = item;
          this.output.push(null as unknown as Json);
          out += this.event('response.output_item.added', {
            output_index: item.outputIndex,
            item: { type: 'reasoning', id: item.id, summary: [] },
          });
        }
        const item = this.open as Extract<OpenItem, { kind: 'reasoning' }>;
        if (sig) item.encrypted = sig;
        if (ev.text) {
          if (!item.summaryOpen) {
            item.summaryOpen = true;
            out += this.event('response.reasoning_summary_part.added', {
              item_id: item.id,
              output_index: item.outputIndex,
              summary_index: 0,
              part: { type: 'summary_text', text: '' },
            });
          }
          item.text += ev.text;
          out += this.event('response.reasoning_summary_text.delta', {
            item_id: item.id,
            output_index: item.outputIndex,
            summary_index: 0,
            delta: ev.text,
          });
        }
        return out;
      }
      case 'tool_call': {
        let out = this.begin();
        let item = this.tools.get(ev.index);
        if (!item) {
          out += this.close();
          const callId = ev.id ?? `call_${this.id.slice(5)}_${ev.index}`;
          item = {
            kind: 'tool',
            outputIndex: this.output.length,
            id: `fc_${callId}`,
            callId,
            name: ev.name ?? '',
            args: '',
          };
          this.tools.set(ev.index, item);
          this.open = item;
          this.output.push(null as unknown as Json);
          out += this.event('response.output_item.added', {
            output_index: item.outputIndex,
            item: {
              type: 'function_call',
              id: item.id,
              call_id: callId,
              name: item.name,
              arguments: '',
              status: 'in_progress',
            },
          });
        }
        if (ev.arguments) {
          item.args += ev.arguments;
          out += this.event('response.function_call_arguments.delta', {
            item_id: item.id,
            output_index: item.outputIndex,
            delta: ev.arguments,
          });
        }
        return out;
      }
    }
  }

  protected override closeStream(): string {
    let out = this.close();
    for (const item of this.tools.values()) if (this.output[item.outputIndex] === null) out += this.closeItem(item);
    const reason = toolAwareStop(this.stop, this.tools.size > 0);
    const response = responseObject(this.id, this.model, this.created, this.output, reason, this.usage);
    return (
      out + this.event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response })
    );
  }

  private begin(id?: string, model?: string, created?: number): string {
    if (this.started) return '';
    this.started = true;
    this.id = prefixedId(id || newId(''), 'resp_');
    this.model = this.opts.model ?? model ?? '';
    this.created = created ?? unixSeconds();
    const response = responseObject(this.id, this.model, this.created, [], undefined, undefined);
    return this.event('response.created', { response }) + this.event('response.in_progress', { response });
  }

  private close(): string {
    const item = this.open;
    this.open = undefined;
    return item ? this.closeItem(item) : '';
  }

  private closeItem(item: OpenItem): string {
    const base = { item_id: item.id, output_index: item.outputIndex };
    let out = '';
    let done: Json;
    if (item.kind === 'text') {
      const part = { type: 'output_text', text: item.text, annotations: [] };
      out += this.event('response.output_text.done', { ...base, content_index: 0, text: item.text });
      out += this.event('response.content_part.done', { ...base, content_index: 0, part });
      done = textItem(item.id, item.text);
    } else if (item.kind === 'reasoning') {
      if (item.summaryOpen) {
        out += this.event('response.reasoning_summary_text.done', { ...base, summary_index: 0, text: item.text });
        out += this.event('response.reasoning_summary_part.done', {
          ...base,
          summary_index: 0,
          part: { type: 'summary_text', text: item.text },
        });
      }
      done = reasoningItem(item.id, item.text, item.encrypted);
    } else {
      out += this.event('response.function_call_arguments.done', { ...base, arguments: item.args || '{}' });
      done = callItem(item.callId, item.name, item.args || '{}');
    }
    this.output[item.outputIndex] = done;
    return out + this.event('response.output_item.done', { output_index: item.outputIndex, item: done });
  }

  private event(type: string, payload: Json): string {
    return sseEvent(type, { type, sequence_number: this.seq++, ...payload });
  }
}

export const openaiResponsesCodec: Codec = {
  format: 'openai-responses',
  decodeRequest,
  encodeRequest,
  decodeResponse,
  encodeResponse,
  usageOf: (body) =>
    isObject(body) ? responsesUsage(isObject(body.response) ? body.response.usage : body.usage) : undefined,
  createFramer: () => new SseFramer(),
  createStreamDecoder: () => new ResponsesStreamDecoder(),
  createStreamEncoder: (opts = {}) => new ResponsesStreamEncoder(opts),
  decodeError: decodeAnyError,
  encodeError: openaiErrorBody,
};
