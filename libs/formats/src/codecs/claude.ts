import type {
  CanonicalError,
  CanonicalRequest,
  CanonicalResponse,
  ContentPart,
  DocumentPart,
  ImagePart,
  Message,
  ReasoningConfig,
  StopReason,
  StreamSink,
  TextPart,
  ToolChoice,
  Usage,
} from '../canonical';
import type { Codec, EncodeRequestOptions, StreamDecoder, StreamEncoderOptions } from '../codec';
import { claudeErrorBody, decodeAnyError } from '../error-envelopes';
import { SseFramer, sseEvent, type Frame } from '../framing';
import { applyModelSuffix, reasoningBudgetOf, reasoningEffortOf } from '../thinking';
import {
  argsToObject,
  asArray,
  compact,
  isObject,
  newId,
  num,
  objectToArgs,
  prefixedId,
  sanitizeId,
  str,
  toolParameters,
  type Json,
} from '../util';
import { frameJson, StreamEncoderBase, toolAwareStop, type ContentEvent, type StartEvent } from './shared/stream';

const STOP_REASONS: ReadonlySet<string> = new Set([
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
]);
const DEFAULT_MAX_TOKENS = 8192;
const MIN_BUDGET = 1024;

function decodeStop(reason: unknown): StopReason {
  if (typeof reason === 'string' && STOP_REASONS.has(reason)) return reason as StopReason;
  if (reason === 'model_context_window_exceeded') return 'max_tokens';
  return 'end_turn';
}

function encodeStop(reason: StopReason): string {
  if (reason === 'content_filter') return 'refusal';
  if (reason === 'error') return 'end_turn';
  return reason;
}

/** Anthropic input_tokens exclude cache reads and writes; canonical input includes them. */
export function claudeUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const cached = num(u.cache_read_input_tokens) ?? 0;
  const created = num(u.cache_creation_input_tokens) ?? 0;
  const usage: Usage = {
    inputTokens: (num(u.input_tokens) ?? 0) + cached + created,
    outputTokens: num(u.output_tokens) ?? 0,
  };
  if (u.cache_read_input_tokens !== undefined) usage.cachedTokens = cached;
  if (u.cache_creation_input_tokens !== undefined) usage.cacheCreationTokens = created;
  return usage;
}

function encodeUsage(u: Usage | undefined): Json {
  const cached = u?.cachedTokens ?? 0;
  const created = u?.cacheCreationTokens ?? 0;
  const out: Json = { input_tokens: Math.max(0, (u?.inputTokens ?? 0) - cached - created) };
  if (u?.cacheCreationTokens !== undefined) out.cache_creation_input_tokens = created;
  if (u?.cachedTokens !== undefined) out.cache_read_input_tokens = cached;
  out.output_tokens = u?.outputTokens ?? 0;
  return out;
}

function decodeMediaSource(src: Json): ImagePart['source'] | DocumentPart['source'] | undefined {
  if (src.type === 'base64') return { kind: 'base64', mediaType: String(src.media_type), data: String(src.data) };
  if (src.type === 'url') return { kind: 'url', url: String(src.url) };
  if (src.type === 'text') return { kind: 'text', text: String(src.data), mediaType: str(src.media_type) };
  if (src.type === 'file') return { kind: 'file', fileId: String(src.file_id) };
  if (src.type === 'content') {
    const text = asArray<Json>(src.content)
      .map((b) => (b.type === 'text' ? b.text : ''))
      .join('');
    return { kind: 'text', text, mediaType: 'text/plain' };
  }
  return undefined;
}

function decodeBlock(b: Json): ContentPart | undefined {
  switch (b.type) {
    case 'text':
      return compact<TextPart>({ type: 'text', text: String(b.text ?? ''), cacheControl: b.cache_control });
    case 'image': {
      const source = isObject(b.source) ? decodeMediaSource(b.source) : undefined;
      return source && source.kind !== 'text' ? { type: 'image', source } : undefined;
    }
    case 'document': {
      const source = isObject(b.source) ? decodeMediaSource(b.source) : undefined;
      return source ? compact<DocumentPart>({ type: 'document', source, title: str(b.title) }) : undefined;
    }
    case 'thinking':
      return compact({
        type: 'reasoning' as const,
        text: String(b.thinking ?? ''),
        signature: b.signature ? { format: 'claude' as const, value: String(b.signature) } : undefined,
      });
    case 'redacted_thinking':
      return { type: 'reasoning', text: '', redacted: { format: 'claude', value: String(b.data) } };
    case 'tool_use':
      return { type: 'tool_call', id: String(b.id), name: String(b.name), arguments: objectToArgs(b.input) };
    case 'tool_result': {
      const content =
        typeof b.content === 'string'
          ? [{ type: 'text' as const, text: b.content }]
          : asArray<Json>(b.content)
              .map(decodeBlock)
              .filter(
                (p): p is TextPart | ImagePart | DocumentPart =>
                  !!p && (p.type === 'text' || p.type === 'image' || p.type === 'document'),
              );
      return compact({
        type: 'tool_result' as const,
        callId: String(b.tool_use_id),
        content,
        isError: b.is_error === true ? true : undefined,
      });
    }
    default:
      // Server tools (web search, code execution) and their results have no counterpart elsewhere.
      return undefined;
  }
}

function decodeContent(content: unknown): ContentPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const parts: ContentPart[] = [];
  for (const b of asArray<Json>(content)) {
    const p = isObject(b) ? decodeBlock(b) : undefined;
    if (p) parts.push(p);
  }
  return parts;
}

function decodeThinking(t: unknown): ReasoningConfig | undefined {
  if (!isObject(t)) return undefined;
  if (t.type === 'enabled') return { budgetTokens: num(t.budget_tokens), includeThoughts: true };
  if (t.type === 'adaptive') return { effort: 'auto', includeThoughts: true };
  if (t.type === 'disabled') return { effort: 'none' };
  return undefined;
}

function decodeToolChoice(tc: unknown): { choice?: ToolChoice; parallel?: boolean } {
  if (!isObject(tc)) return {};
  const parallel = tc.disable_parallel_tool_use === true ? false : undefined;
  switch (tc.type) {
    case 'auto':
      return { choice: { type: 'auto' }, parallel };
    case 'any':
      return { choice: { type: 'required' }, parallel };
    case 'none':
      return { choice: { type: 'none' }, parallel };
    case 'tool':
      return { choice: { type: 'tool', name: String(tc.name) }, parallel };
    default:
      return { parallel };
  }
}

function encodeSource(source: ImagePart['source'] | DocumentPart['source']): Json | undefined {
  switch (source.kind) {
    case 'base64':
      return { type: 'base64', media_type: source.mediaType, data: source.data };
    case 'url':
      return { type: 'url', url: source.url };
    case 'text':
      return { type: 'text', media_type: source.mediaType ?? 'text/plain', data: source.text };
    default:
      return undefined;
  }
}

function encodeBlock(p: ContentPart): Json | undefined {
  switch (p.type) {
    case 'text':
      return compact({ type: 'text', text: p.text, cache_control: p.cacheControl });
    case 'image': {
      const source = encodeSource(p.source);
      return source ? { type: 'image', source } : undefined;
    }
    case 'document': {
      const source = encodeSource(p.source);
      return source ? compact({ type: 'document', source, title: p.title }) : undefined;
    }
    case 'reasoning':
      // Anthropic verifies signatures: only its own thinking blocks may go back to it.
      if (p.redacted?.format === 'claude') return { type: 'redacted_thinking', data: p.redacted.value };
      if (p.signature?.format === 'claude') return { type: 'thinking', thinking: p.text, signature: p.signature.value };
      return undefined;
    case 'tool_call':
      return { type: 'tool_use', id: sanitizeId(p.id), name: p.name, input: argsToObject(p.arguments) };
    case 'tool_result': {
      const blocks = p.content.map(encodeBlock).filter((b): b is Json => !!b);
      const content =
        blocks.length === 1 && blocks[0].type === 'text' && !blocks[0].cache_control ? blocks[0].text : blocks;
      return compact({ type: 'tool_result', tool_use_id: sanitizeId(p.callId), content, is_error: p.isError });
    }
  }
}

function encodeMessages(messages: Message[]): Json[] {
  const out: Json[] = [];
  for (const m of messages) {
    let blocks = m.content.map(encodeBlock).filter((b): b is Json => !!b);
    if (!blocks.length) continue;
    const prev = out[out.length - 1];
    if (prev && prev.role === m.role) {
      // Consecutive same-role turns (OpenAI tool messages followed by user text) become one turn.
      prev.content = [
        ...(Array.isArray(prev.content) ? prev.content : [{ type: 'text', text: prev.content }]),
        ...blocks,
      ];
      blocks = prev.content;
    } else out.push({ role: m.role, content: blocks });
    const target = out[out.length - 1];
    if (m.role === 'user' && blocks.some((b) => b.type === 'tool_result')) {
      // Anthropic wants tool results before any other content of the turn.
      target.content = [
        ...blocks.filter((b) => b.type === 'tool_result'),
        ...blocks.filter((b) => b.type !== 'tool_result'),
      ];
    }
  }
  for (const m of out) {
    const c = m.content as Json[];
    if (c.length === 1 && c[0].type === 'text' && !c[0].cache_control) m.content = c[0].text;
  }
  return out;
}

function encodeToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): Json | undefined {
  let out: Json | undefined;
  switch (choice?.type) {
    case 'auto':
      out = { type: 'auto' };
      break;
    case 'none':
      out = { type: 'none' };
      break;
    case 'required':
      out = { type: 'any' };
      break;
    case 'tool':
      out = { type: 'tool', name: choice.name };
      break;
  }
  if (parallel === false) (out ??= { type: 'auto' }).disable_parallel_tool_use = true;
  return out;
}

function encodeRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const body: Json = { model: req.model };
  let maxTokens = req.maxTokens ?? DEFAULT_MAX_TOKENS;
  let thinking: Json | undefined;
  if (req.reasoning) {
    const effort = reasoningEffortOf(req.reasoning);
    if (effort === 'none') thinking = { type: 'disabled' };
    else if (effort === 'auto') thinking = { type: 'adaptive' };
    else {
      const budget = Math.max(MIN_BUDGET, reasoningBudgetOf(req.reasoning) ?? MIN_BUDGET);
      // budget_tokens must stay below max_tokens: raise the cap rather than starve the answer.
      if (maxTokens <= budget) maxTokens = budget + Math.max(req.maxTokens ?? 0, 4096);
      thinking = { type: 'enabled', budget_tokens: budget };
    }
  }
  body.max_tokens = maxTokens;
  if (req.system?.length) {
    const sys = req.system;
    body.system =
      sys.length === 1 && !sys[0].cacheControl
        ? sys[0].text
        : sys.map((s) => compact({ type: 'text', text: s.text, cache_control: s.cacheControl }));
  }
  body.messages = encodeMessages(req.messages);
  if (req.tools?.length) {
    body.tools = req.tools.map((t) =>
      compact({
        name: t.name,
        description: t.description,
        input_schema: toolParameters(t),
        cache_control: t.cacheControl,
      }),
    );
  }
  const toolChoice = encodeToolChoice(
    req.tools?.length ? req.toolChoice : undefined,
    req.tools?.length ? req.parallelToolCalls : undefined,
  );
  if (toolChoice) body.tool_choice = toolChoice;
  if (req.stop?.length) body.stop_sequences = req.stop;
  const thinkingOn = thinking && thinking.type !== 'disabled';
  // Extended thinking rejects temperature != 1, top_k and top_p < 0.95.
  if (req.temperature !== undefined && (!thinkingOn || req.temperature === 1)) body.temperature = req.temperature;
  if (req.topP !== undefined && (!thinkingOn || req.topP >= 0.95)) body.top_p = req.topP;
  if (req.topK !== undefined && !thinkingOn) body.top_k = req.topK;
  if (thinking) body.thinking = thinking;
  if (opts.stream ?? req.stream) body.stream = true;
  return body;
}

function decodeRequest(raw: unknown): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const { choice, parallel } = decodeToolChoice(body.tool_choice);
  const system =
    typeof body.system === 'string'
      ? [{ type: 'text' as const, text: body.system }]
      : asArray<Json>(body.system)
          .filter((b) => b.type === 'text')
          .map((b) => compact<TextPart>({ type: 'text', text: String(b.text), cacheControl: b.cache_control }));
  return compact<CanonicalRequest>({
    model: String(body.model ?? ''),
    stream: body.stream === true,
    system: system.length ? system : undefined,
    messages: asArray<Json>(body.messages).map((m) => ({
      role: m.role === 'assistant' ? 'assistant' : 'user',
      content: decodeContent(m.content),
    })),
    tools: body.tools
      ? asArray<Json>(body.tools)
          .filter((t) => t.input_schema || !t.type || t.type === 'custom')
          .map((t) =>
            compact({
              name: String(t.name),
              description: str(t.description),
              parameters: isObject(t.input_schema) ? t.input_schema : undefined,
              cacheControl: t.cache_control,
            }),
          )
      : undefined,
    toolChoice: choice,
    parallelToolCalls: parallel,
    maxTokens: num(body.max_tokens),
    temperature: num(body.temperature),
    topP: num(body.top_p),
    topK: num(body.top_k),
    stop: Array.isArray(body.stop_sequences) ? body.stop_sequences.map(String) : undefined,
    reasoning: decodeThinking(body.thinking),
  });
}

function decodeResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const content = decodeContent(body.content).filter(
    (p): p is CanonicalResponse['content'][number] =>
      p.type === 'text' || p.type === 'reasoning' || p.type === 'tool_call',
  );
  for (const p of content) if (p.type === 'text') delete p.cacheControl;
  return compact<CanonicalResponse>({
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    content,
    stopReason: decodeStop(body.stop_reason),
    stopSequence: str(body.stop_sequence),
    usage: claudeUsage(body.usage),
  });
}

/** Foreign reasoning is still shown to the client, unsigned: it cannot be verified if sent back. */
function responseBlock(p: CanonicalResponse['content'][number]): Json | undefined {
  if (p.type !== 'reasoning' || p.signature?.format === 'claude' || p.redacted?.format === 'claude')
    return encodeBlock(p);
  return p.text ? { type: 'thinking', thinking: p.text, signature: '' } : undefined;
}

function encodeResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  return {
    id: prefixedId(res.id, 'msg_'),
    type: 'message',
    role: 'assistant',
    model: opts?.model ?? res.model,
    content: res.content.map(responseBlock).filter(Boolean),
    stop_reason: encodeStop(res.stopReason),
    stop_sequence: res.stopSequence ?? null,
    usage: encodeUsage(res.usage),
  };
}

class ClaudeStreamDecoder implements StreamDecoder {
  private toolByBlock = new Map<number, number>();
  private tools = 0;
  private raw: Json = {};

  frame(f: Frame, sink: StreamSink): void {
    const e = frameJson(f);
    if (e === undefined) return;
    switch (e.type ?? f.event) {
      case 'message_start': {
        const m = isObject(e.message) ? e.message : {};
        Object.assign(this.raw, m.usage);
        sink({ type: 'start', id: String(m.id ?? ''), model: String(m.model ?? ''), usage: claudeUsage(this.raw) });
        break;
      }
      case 'content_block_start': {
        const b = isObject(e.content_block) ? e.content_block : {};
        if (b.type === 'text' && b.text) sink({ type: 'text', text: b.text });
        else if (b.type === 'thinking' && b.thinking) sink({ type: 'reasoning', text: b.thinking });
        else if (b.type === 'redacted_thinking')
          sink({ type: 'reasoning', redacted: { format: 'claude', value: String(b.data) } });
        else if (b.type === 'tool_use') {
          const index = this.tools++;
          this.toolByBlock.set(e.index, index);
          const input = isObject(b.input) && Object.keys(b.input).length ? JSON.stringify(b.input) : undefined;
          sink({ type: 'tool_call', index, id: String(b.id), name: String(b.name), arguments: input });
        }
        break;
      }
      case 'content_block_delta': {
        const d = isObject(e.delta) ? e.delta : {};
        if (d.type === 'text_delta') sink({ type: 'text', text: String(d.text) });
        else if (d.type === 'thinking_delta') sink({ type: 'reasoning', text: String(d.thinking) });
        else if (d.type === 'signature_delta')
          sink({ type: 'reasoning', signature: { format: 'claude', value: String(d.signature) } });
        else if (d.type === 'input_json_delta') {
          const index = this.toolByBlock.get(e.index);
          if (index !== undefined && d.partial_json)
            sink({ type: 'tool_call', index, arguments: String(d.partial_json) });
        }
        break;
      }
      case 'message_delta': {
        const d = isObject(e.delta) ? e.delta : {};
        if (isObject(e.usage)) {
          for (const [k, v] of Object.entries(e.usage)) if (v !== null && v !== undefined) this.raw[k] = v;
          sink({ type: 'usage', usage: claudeUsage(this.raw)! });
        }
        if (d.stop_reason)
          sink(
            compact({ type: 'finish' as const, reason: decodeStop(d.stop_reason), stopSequence: str(d.stop_sequence) }),
          );
        break;
      }
      case 'message_stop':
        sink({ type: 'done' });
        break;
      case 'error':
        sink({ type: 'error', error: decodeAnyError(e) });
        break;
    }
  }
}

type OpenBlock = { kind: 'text' | 'thinking' | 'tool'; index: number } | undefined;

class ClaudeStreamEncoder extends StreamEncoderBase {
  private open: OpenBlock;
  private blocks = 0;
  private toolBlocks = new Map<number, number>();
  private sawTool = false;

  constructor(private readonly opts: StreamEncoderOptions) {
    super();
  }

  protected override start(ev: StartEvent): string {
    return this.begin(ev.id, ev.model);
  }

  protected override error(error: CanonicalError): string {
    return sseEvent('error', claudeErrorBody(error));
  }

  protected override content(ev: ContentEvent): string {
    switch (ev.type) {
      case 'text':
        if (!ev.text) return '';
        return (
          this.begin() +
          this.openBlock('text') +
          sseEvent('content_block_delta', {
            type: 'content_block_delta',
            index: this.open!.index,
            delta: { type: 'text_delta', text: ev.text },
          })
        );
      case 'reasoning': {
        let out = this.begin();
        if (ev.redacted) {
          if (ev.redacted.format !== 'claude') return out;
          const index = this.blocks++;
          return (
            out +
            this.closeBlock() +
            sseEvent('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { type: 'redacted_thinking', data: ev.redacted.value },
            }) +
            sseEvent('content_block_stop', { type: 'content_block_stop', index })
          );
        }
        if (ev.text) {
          out +=
            this.openBlock('thinking') +
            sseEvent('content_block_delta', {
              type: 'content_block_delta',
              index: this.open!.index,
              delta: { type: 'thinking_delta', thinking: ev.text },
            });
        }
        if (ev.signature?.format === 'claude') {
          out +=
            this.openBlock('thinking') +
            sseEvent('content_block_delta', {
              type: 'content_block_delta',
              index: this.open!.index,
              delta: { type: 'signature_delta', signature: ev.signature.value },
            });
        }
        return out;
      }
      case 'tool_call': {
        let out = this.begin();
        let index = this.toolBlocks.get(ev.index);
        if (index === undefined) {
          out += this.closeBlock();
          index = this.blocks++;
          this.toolBlocks.set(ev.index, index);
          this.open = { kind: 'tool', index };
          this.sawTool = true;
          out += sseEvent('content_block_start', {
            type: 'content_block_start',
            index,
            content_block: {
              type: 'tool_use',
              id: sanitizeId(ev.id ?? `toolu_${ev.index}`),
              name: ev.name ?? '',
              input: {},
            },
          });
        }
        if (ev.arguments)
          out += sseEvent('content_block_delta', {
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: ev.arguments },
          });
        return out;
      }
    }
  }

  protected override closeStream(): string {
    const reason = encodeStop(toolAwareStop(this.stop, this.sawTool));
    return (
      this.closeBlock() +
      sseEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: reason, stop_sequence: this.stopSequence ?? null },
        usage: encodeUsage(this.usage),
      }) +
      sseEvent('message_stop', { type: 'message_stop' })
    );
  }

  private begin(id?: string, model?: string): string {
    if (this.started) return '';
    this.started = true;
    const message = {
      id: prefixedId(id || newId(''), 'msg_'),
      type: 'message',
      role: 'assistant',
      model: this.opts.model ?? model ?? '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...encodeUsage(this.usage), output_tokens: 0 },
    };
    return sseEvent('message_start', { type: 'message_start', message });
  }

  private openBlock(kind: 'text' | 'thinking'): string {
    if (this.open?.kind === kind) return '';
    const out = this.closeBlock();
    const index = this.blocks++;
    this.open = { kind, index };
    const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    return out + sseEvent('content_block_start', { type: 'content_block_start', index, content_block: block });
  }

  private closeBlock(): string {
    if (!this.open) return '';
    const index = this.open.index;
    this.open = undefined;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index });
  }
}

export const claudeCodec: Codec = {
  format: 'claude',
  decodeRequest,
  encodeRequest,
  decodeResponse,
  encodeResponse,
  usageOf: (body) => (isObject(body) ? claudeUsage(body.usage) : undefined),
  createFramer: () => new SseFramer(),
  createStreamDecoder: () => new ClaudeStreamDecoder(),
  createStreamEncoder: (opts = {}) => new ClaudeStreamEncoder(opts),
  decodeError: decodeAnyError,
  encodeError: claudeErrorBody,
};
