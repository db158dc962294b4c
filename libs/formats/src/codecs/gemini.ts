import type {
  CanonicalError,
  CanonicalRequest,
  CanonicalResponse,
  ContentPart,
  DocumentPart,
  ImagePart,
  Message,
  ReasoningConfig,
  ReasoningEffort,
  Signature,
  StopReason,
  StreamSink,
  TextPart,
  ToolChoice,
  Usage,
} from '../canonical';
import type { Codec, DecodeRequestHints, EncodeRequestOptions, StreamDecoder, StreamEncoderOptions } from '../codec';
import { decodeAnyError, geminiErrorBody } from '../error-envelopes';
import { AutoFramer, sseEvent, type Frame } from '../framing';
import { cleanSchemaForGemini, geminiSchemaToJsonSchema } from '../schema';
import { applyModelSuffix, reasoningBudgetOf, reasoningEffortOf } from '../thinking';
import {
  argsToObject,
  asArray,
  callNames,
  compact,
  isObject,
  newId,
  num,
  objectToArgs,
  ownSignature,
  parseJson,
  str,
  synthesizeCallId,
  titledText,
  type Json,
} from '../util';
import { frameJson, StreamEncoderBase, type ContentEvent, type StartEvent } from './shared/stream';

/** Google's documented placeholder for function calls whose thought signature is unknown (Gemini 3). */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

const FILTER_REASONS = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
]);

function decodeFinish(reason: unknown, sawTool: boolean): StopReason {
  if (reason === 'MAX_TOKENS') return 'max_tokens';
  if (typeof reason === 'string' && FILTER_REASONS.has(reason)) return 'content_filter';
  if (reason === 'MALFORMED_FUNCTION_CALL' || reason === 'UNEXPECTED_TOOL_CALL') return 'error';
  return sawTool ? 'tool_use' : 'end_turn';
}

function encodeFinish(reason: StopReason): string {
  if (reason === 'max_tokens') return 'MAX_TOKENS';
  if (reason === 'content_filter' || reason === 'refusal') return 'SAFETY';
  if (reason === 'error') return 'OTHER';
  return 'STOP';
}

/** Gemini counts thoughts apart from candidates; canonical output includes them. */
export function geminiUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const thoughts = num(u.thoughtsTokenCount);
  const usage: Usage = {
    inputTokens: (num(u.promptTokenCount) ?? 0) + (num(u.toolUsePromptTokenCount) ?? 0),
    outputTokens: (num(u.candidatesTokenCount) ?? 0) + (thoughts ?? 0),
  };
  const cached = num(u.cachedContentTokenCount);
  if (cached !== undefined) usage.cachedTokens = cached;
  if (thoughts !== undefined) usage.reasoningTokens = thoughts;
  return usage;
}

function encodeUsage(u: Usage | undefined): Json {
  const reasoning = u?.reasoningTokens ?? 0;
  const out: Json = {
    promptTokenCount: u?.inputTokens ?? 0,
    candidatesTokenCount: Math.max(0, (u?.outputTokens ?? 0) - reasoning),
    totalTokenCount: (u?.inputTokens ?? 0) + (u?.outputTokens ?? 0),
  };
  if (u?.cachedTokens !== undefined) out.cachedContentTokenCount = u.cachedTokens;
  if (u?.reasoningTokens !== undefined) out.thoughtsTokenCount = reasoning;
  return out;
}

const gsig = (value: unknown): Signature | undefined =>
  typeof value === 'string' && value ? { format: 'gemini', value } : undefined;

function decodeMedia(mimeType: string, source: ImagePart['source']): ImagePart | DocumentPart {
  return mimeType.startsWith('image/') ? { type: 'image', source } : { type: 'document', source };
}

/** One Gemini part to canonical parts; `callId` names function calls, which Gemini leaves unnamed. */
function decodePart(p: Json, callId: () => string): ContentPart[] {
  const sig = gsig(p.thoughtSignature);
  if (typeof p.text === 'string') {
    if (p.thought === true) return [compact({ type: 'reasoning' as const, text: p.text, signature: sig })];
    const out: ContentPart[] = [];
    if (sig) out.push({ type: 'reasoning', text: '', signature: sig });
    if (p.text) out.push({ type: 'text', text: p.text });
    return out;
  }
  if (isObject(p.inlineData)) {
    const mediaType = String(p.inlineData.mimeType ?? 'application/octet-stream');
    return [decodeMedia(mediaType, { kind: 'base64', mediaType, data: String(p.inlineData.data ?? '') })];
  }
  if (isObject(p.fileData)) {
    const mediaType = String(p.fileData.mimeType ?? 'application/octet-stream');
    return [decodeMedia(mediaType, { kind: 'url', url: String(p.fileData.fileUri ?? ''), mediaType })];
  }
  if (isObject(p.functionCall)) {
    const fc = p.functionCall;
    return [
      compact({
        type: 'tool_call' as const,
        id: str(fc.id) ?? callId(),
        name: String(fc.name ?? ''),
        arguments: objectToArgs(fc.args),
        signature: sig,
      }),
    ];
  }
  return [];
}

function functionResponseContent(response: unknown): TextPart[] {
  if (isObject(response)) {
    const keys = Object.keys(response);
    if (keys.length === 1 && (keys[0] === 'result' || keys[0] === 'output') && typeof response[keys[0]] === 'string')
      return [{ type: 'text', text: response[keys[0]] }];
  }
  return [{ type: 'text', text: JSON.stringify(response ?? {}) }];
}

function decodeContents(contents: unknown): Message[] {
  const messages: Message[] = [];
  // functionResponse parts name no call: answer the oldest unanswered call of that name.
  const pending = new Map<string, string[]>();
  asArray<Json>(contents).forEach((c, mi) => {
    const role: Message['role'] = c.role === 'model' ? 'assistant' : 'user';
    const content: ContentPart[] = [];
    asArray<Json>(c.parts).forEach((p, pi) => {
      if (isObject(p.functionResponse)) {
        const fr = p.functionResponse;
        const name = String(fr.name ?? '');
        const queue = pending.get(name);
        const callId = str(fr.id) ?? queue?.shift() ?? synthesizeCallId(`${mi}`, pi);
        content.push({ type: 'tool_result', callId, name, content: functionResponseContent(fr.response) });
        return;
      }
      for (const part of decodePart(p, () => synthesizeCallId(`${mi}`, pi))) {
        if (part.type === 'tool_call') {
          const queue = pending.get(part.name) ?? [];
          queue.push(part.id);
          pending.set(part.name, queue);
        }
        content.push(part);
      }
    });
    messages.push({ role, content });
  });
  return messages;
}

function decodeToolConfig(tc: unknown): ToolChoice | undefined {
  const fcc = isObject(tc) && isObject(tc.functionCallingConfig) ? tc.functionCallingConfig : undefined;
  if (!fcc) return undefined;
  const names = asArray<string>(fcc.allowedFunctionNames);
  if (fcc.mode === 'ANY') return names.length === 1 ? { type: 'tool', name: names[0] } : { type: 'required' };
  if (fcc.mode === 'NONE') return { type: 'none' };
  if (fcc.mode === 'AUTO' || fcc.mode === 'VALIDATED') return { type: 'auto' };
  return undefined;
}

function decodeThinking(t: unknown): ReasoningConfig | undefined {
  if (!isObject(t)) return undefined;
  return compact<ReasoningConfig>({
    budgetTokens: num(t.thinkingBudget),
    effort: typeof t.thinkingLevel === 'string' ? (t.thinkingLevel.toLowerCase() as ReasoningEffort) : undefined,
    includeThoughts: typeof t.includeThoughts === 'boolean' ? t.includeThoughts : undefined,
  });
}

function decodeRequest(raw: unknown, hints?: DecodeRequestHints): CanonicalRequest {
  const body = isObject(raw) ? raw : {};
  const gc = isObject(body.generationConfig) ? body.generationConfig : {};
  const si = body.systemInstruction ?? body.system_instruction;
  const system: TextPart[] =
    typeof si === 'string'
      ? [{ type: 'text', text: si }]
      : asArray<Json>(isObject(si) ? si.parts : undefined)
          .filter((p) => typeof p.text === 'string')
          .map((p) => ({ type: 'text', text: p.text }));
  const tools = asArray<Json>(body.tools)
    .flatMap((t) => asArray<Json>(t.functionDeclarations ?? t.function_declarations))
    .map((f) =>
      compact({
        name: String(f.name),
        description: str(f.description),
        parameters: isObject(f.parametersJsonSchema) ? f.parametersJsonSchema : geminiSchemaToJsonSchema(f.parameters),
      }),
    );
  const schema = isObject(gc.responseJsonSchema) ? gc.responseJsonSchema : geminiSchemaToJsonSchema(gc.responseSchema);
  return compact<CanonicalRequest>({
    model: (hints?.model ?? String(body.model ?? '')).replace(/^models\//, ''),
    stream: hints?.stream ?? false,
    system: system.length ? system : undefined,
    messages: decodeContents(body.contents),
    tools: tools.length ? tools : undefined,
    toolChoice: decodeToolConfig(body.toolConfig),
    maxTokens: num(gc.maxOutputTokens),
    temperature: num(gc.temperature),
    topP: num(gc.topP),
    topK: num(gc.topK),
    stop: Array.isArray(gc.stopSequences) ? gc.stopSequences.map(String) : undefined,
    presencePenalty: num(gc.presencePenalty),
    frequencyPenalty: num(gc.frequencyPenalty),
    seed: num(gc.seed),
    reasoning: decodeThinking(gc.thinkingConfig),
    responseFormat:
      gc.responseMimeType === 'application/json'
        ? schema
          ? { type: 'json_schema', schema }
          : { type: 'json_object' }
        : undefined,
  });
}

function encodeMediaPart(p: ImagePart | DocumentPart): Json | undefined {
  const s = p.source;
  if (s.kind === 'base64') return { inlineData: { mimeType: s.mediaType, data: s.data } };
  if (s.kind === 'url') return { fileData: { mimeType: s.mediaType ?? guessMime(s.url, p.type), fileUri: s.url } };
  if (s.kind === 'file') return { fileData: compact({ mimeType: s.mediaType, fileUri: s.fileId }) };
  return { text: titledText(p.type === 'document' ? p.title : undefined, s.text) };
}

function guessMime(url: string, kind: 'image' | 'document'): string {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  const known: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    pdf: 'application/pdf',
    txt: 'text/plain',
  };
  return (ext && known[ext]) ?? (kind === 'image' ? 'image/jpeg' : 'application/pdf');
}

function toolResponse(text: string, isError: boolean | undefined): Json {
  if (isError) return { error: text };
  const parsed = text.trimStart().startsWith('{') ? parseJson(text) : undefined;
  return isObject(parsed) ? parsed : { result: text };
}

function encodeContents(messages: Message[], placeholderSignatures: boolean): Json[] {
  const names = callNames(messages);
  const out: Json[] = [];
  for (const m of messages) {
    const role = m.role === 'assistant' ? 'model' : 'user';
    const parts: Json[] = [];
    let carried: string | undefined;
    let firstCall = true;
    for (const p of m.content) {
      let part: Json | undefined;
      switch (p.type) {
        case 'text':
          part = { text: p.text };
          break;
        case 'image':
        case 'document':
          part = encodeMediaPart(p);
          break;
        case 'reasoning':
          // Thought text only matters to Gemini with its own signature; a bare signature rides on the next part.
          if (p.signature?.format !== 'gemini') break;
          if (!p.text) carried = p.signature.value;
          else part = { text: p.text, thought: true, thoughtSignature: p.signature.value };
          break;
        case 'tool_call': {
          part = { functionCall: { name: p.name, args: argsToObject(p.arguments) } };
          const sig =
            ownSignature(p.signature, 'gemini') ??
            carried ??
            (placeholderSignatures && firstCall ? SKIP_THOUGHT_SIGNATURE : undefined);
          carried = undefined;
          firstCall = false;
          if (sig) part.thoughtSignature = sig;
          break;
        }
        case 'tool_result': {
          const text = p.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
          part = {
            functionResponse: {
              name: p.name ?? names.get(p.callId) ?? p.callId,
              response: toolResponse(text, p.isError),
            },
          };
          break;
        }
      }
      if (!part) continue;
      if (carried && part.thoughtSignature === undefined) {
        part.thoughtSignature = carried;
        carried = undefined;
      }
      parts.push(part);
    }
    if (carried) parts.push({ text: '', thoughtSignature: carried });
    if (!parts.length) continue;
    const prev = out[out.length - 1];
    if (prev?.role === role) prev.parts.push(...parts);
    else out.push({ role, parts });
  }
  return out;
}

function isGemini3(model: string): boolean {
  return /gemini-3/i.test(model);
}

function encodeThinking(r: ReasoningConfig, model: string): Json | undefined {
  const out: Json = {};
  if (r.effort && r.budgetTokens === undefined && isGemini3(model)) {
    // Gemini 3 takes levels; it cannot switch thinking off, so `none` becomes the lowest level.
    const e = r.effort;
    if (e !== 'auto')
      out.thinkingLevel =
        e === 'none' || e === 'minimal' ? (/flash/i.test(model) ? 'minimal' : 'low') : e === 'xhigh' ? 'high' : e;
  } else {
    const budget = reasoningBudgetOf(r);
    if (budget !== undefined) out.thinkingBudget = budget;
  }
  const effort = reasoningEffortOf(r);
  if (r.includeThoughts !== undefined) out.includeThoughts = r.includeThoughts && effort !== 'none';
  return Object.keys(out).length ? out : undefined;
}

function encodeRequest(input: CanonicalRequest, opts: EncodeRequestOptions): Json {
  const req = applyModelSuffix(input, opts.model);
  const body: Json = { contents: encodeContents(req.messages, isGemini3(req.model)) };
  if (req.system?.length) body.systemInstruction = { parts: req.system.map((s) => ({ text: s.text })) };
  if (req.tools?.length) {
    body.tools = [
      {
        functionDeclarations: req.tools.map((t) => {
          const params = t.parameters ? cleanSchemaForGemini(t.parameters) : undefined;
          // An empty object schema is rejected: declare no parameters instead.
          const useful =
            params &&
            !(params.type === 'object' && (!isObject(params.properties) || !Object.keys(params.properties).length));
          return compact({ name: t.name, description: t.description, parameters: useful ? params : undefined });
        }),
      },
    ];
    const tc = req.toolChoice;
    if (tc) {
      const mode = tc.type === 'auto' ? 'AUTO' : tc.type === 'none' ? 'NONE' : 'ANY';
      body.toolConfig = {
        functionCallingConfig: tc.type === 'tool' ? { mode, allowedFunctionNames: [tc.name] } : { mode },
      };
    }
  }
  const gc: Json = compact({
    temperature: req.temperature,
    topP: req.topP,
    topK: req.topK,
    maxOutputTokens: req.maxTokens,
    stopSequences: req.stop?.length ? req.stop : undefined,
    presencePenalty: req.presencePenalty,
    frequencyPenalty: req.frequencyPenalty,
    seed: req.seed,
  });
  const rf = req.responseFormat;
  if (rf && rf.type !== 'text') {
    gc.responseMimeType = 'application/json';
    if (rf.type === 'json_schema') gc.responseSchema = cleanSchemaForGemini(rf.schema);
  }
  const thinking = req.reasoning ? encodeThinking(req.reasoning, req.model) : undefined;
  if (thinking) gc.thinkingConfig = thinking;
  if (Object.keys(gc).length) body.generationConfig = gc;
  return body;
}

function decodeResponse(raw: unknown): CanonicalResponse {
  const body = isObject(raw) ? raw : {};
  const cand = asArray<Json>(body.candidates)[0] ?? {};
  const id = String(body.responseId ?? '');
  let calls = 0;
  const content: CanonicalResponse['content'] = [];
  for (const p of asArray<Json>(cand.content?.parts)) {
    for (const part of decodePart(p, () => synthesizeCallId(id || 'gemini', calls))) {
      if (part.type === 'tool_call') calls++;
      if (part.type === 'text' || part.type === 'reasoning' || part.type === 'tool_call') content.push(part);
    }
  }
  const blocked = !body.candidates && isObject(body.promptFeedback) && body.promptFeedback.blockReason;
  return compact<CanonicalResponse>({
    id,
    model: String(body.modelVersion ?? ''),
    content,
    stopReason: blocked ? 'content_filter' : decodeFinish(cand.finishReason, calls > 0),
    usage: geminiUsage(body.usageMetadata),
  });
}

function encodeResponseParts(content: CanonicalResponse['content']): Json[] {
  const parts: Json[] = [];
  for (const p of content) {
    if (p.type === 'text') parts.push({ text: p.text });
    else if (p.type === 'reasoning') {
      if (!p.text && p.signature?.format !== 'gemini') continue;
      parts.push(
        compact({
          text: p.text,
          thought: p.text ? true : undefined,
          thoughtSignature: ownSignature(p.signature, 'gemini'),
        }),
      );
    } else
      parts.push(
        compact({
          functionCall: { name: p.name, args: argsToObject(p.arguments) },
          thoughtSignature: ownSignature(p.signature, 'gemini'),
        }),
      );
  }
  return parts;
}

function encodeResponse(res: CanonicalResponse, opts?: { model?: string }): Json {
  return compact({
    candidates: [
      {
        content: { role: 'model', parts: encodeResponseParts(res.content) },
        finishReason: encodeFinish(res.stopReason),
        index: 0,
      },
    ],
    usageMetadata: encodeUsage(res.usage),
    modelVersion: opts?.model ?? res.model,
    responseId: res.id || undefined,
  });
}

class GeminiStreamDecoder implements StreamDecoder {
  private started = false;
  private calls = 0;
  private id = '';

  frame(f: Frame, sink: StreamSink): void {
    const e = frameJson(f);
    if (e === undefined) return;
    if (isObject(e.error)) return sink({ type: 'error', error: decodeAnyError(e) });
    if (!this.started) {
      this.started = true;
      this.id = String(e.responseId ?? '');
      sink({ type: 'start', id: this.id, model: String(e.modelVersion ?? '') });
    }
    const cand = asArray<Json>(e.candidates)[0];
    for (const p of asArray<Json>(cand?.content?.parts)) {
      for (const part of decodePart(p, () => synthesizeCallId(this.id || 'gemini', this.calls))) {
        if (part.type === 'text') sink({ type: 'text', text: part.text });
        else if (part.type === 'reasoning')
          sink(compact({ type: 'reasoning' as const, text: part.text || undefined, signature: part.signature }));
        else if (part.type === 'tool_call')
          sink(
            compact({
              type: 'tool_call' as const,
              index: this.calls++,
              id: part.id,
              name: part.name,
              arguments: part.arguments,
              signature: part.signature,
            }),
          );
      }
    }
    if (isObject(e.usageMetadata)) sink({ type: 'usage', usage: geminiUsage(e.usageMetadata)! });
    if (cand?.finishReason) sink({ type: 'finish', reason: decodeFinish(cand.finishReason, this.calls > 0) });
    else if (!e.candidates && isObject(e.promptFeedback) && e.promptFeedback.blockReason)
      sink({ type: 'finish', reason: 'content_filter' });
  }
}

interface PendingCall {
  name: string;
  args: string;
  signature?: string;
}

class GeminiStreamEncoder extends StreamEncoderBase {
  private id = '';
  private model = '';
  private calls = new Map<number, PendingCall>();

  constructor(private readonly opts: StreamEncoderOptions) {
    super();
  }

  /** Gemini has no start frame: the id and model ride on every chunk. */
  protected override start(ev: StartEvent): string {
    this.begin(ev.id, ev.model);
    return '';
  }

  protected override error(error: CanonicalError): string {
    const body = geminiErrorBody(error);
    if (!this.opts.jsonArray) return sseEvent(undefined, body);
    return `${this.arrayPrefix()}${JSON.stringify(body)}]`;
  }

  protected override content(ev: ContentEvent): string {
    switch (ev.type) {
      case 'text':
        return ev.text ? this.chunk([...this.flushCalls(), { text: ev.text }]) : '';
      case 'reasoning': {
        const sig = ownSignature(ev.signature, 'gemini');
        if (!ev.text && !sig) return '';
        return this.chunk([
          ...this.flushCalls(),
          compact({ text: ev.text ?? '', thought: ev.text ? true : undefined, thoughtSignature: sig }),
        ]);
      }
      case 'tool_call': {
        // Gemini sends each function call whole, so arguments are held until the call is complete.
        const flushed = this.calls.has(ev.index) ? [] : this.flushCalls();
        const call = this.calls.get(ev.index) ?? { name: ev.name ?? '', args: '' };
        if (ev.arguments) call.args += ev.arguments;
        if (ev.signature?.format === 'gemini') call.signature = ev.signature.value;
        this.calls.set(ev.index, call);
        return flushed.length ? this.chunk(flushed) : '';
      }
    }
  }

  /** A start event alone already obliges a closing chunk (it carries the finish reason and usage). */
  protected override begun(): boolean {
    return this.started || !!this.id;
  }

  protected override closeStream(): string {
    return this.chunk(this.flushCalls(), true) + (this.opts.jsonArray ? ']' : '');
  }

  private begin(id?: string, model?: string): void {
    if (this.id) return;
    this.id = id || newId('');
    this.model = this.opts.model ?? model ?? '';
  }

  private flushCalls(): Json[] {
    if (!this.calls.size) return [];
    const parts: Json[] = [];
    for (const c of this.calls.values()) {
      if (!c.name) continue;
      parts.push(
        compact({ functionCall: { name: c.name, args: argsToObject(c.args) }, thoughtSignature: c.signature }),
      );
    }
    this.calls.clear();
    return parts;
  }

  private chunk(parts: Json[], final = false): string {
    this.begin();
    const candidate: Json = { content: { role: 'model', parts }, index: 0 };
    if (final) candidate.finishReason = encodeFinish(this.stop);
    const body: Json = { candidates: [candidate] };
    if (final || this.usage) body.usageMetadata = encodeUsage(this.usage);
    body.modelVersion = this.model;
    body.responseId = this.id;
    const json = JSON.stringify(body);
    const prefix = this.arrayPrefix();
    return this.opts.jsonArray ? prefix + json : `data: ${json}\r\n\r\n`;
  }

  /** What precedes the next JSON-array element (`[` first, then `,`); marks the stream begun in either framing. */
  private arrayPrefix(): string {
    const prefix = this.started ? ',\r\n' : '[';
    this.started = true;
    return prefix;
  }
}

export const geminiCodec: Codec = {
  format: 'gemini',
  decodeRequest,
  encodeRequest,
  decodeResponse,
  encodeResponse,
  usageOf: (body) =>
    geminiUsage((Array.isArray(body) ? body[body.length - 1] : isObject(body) ? body : {})?.usageMetadata),
  createFramer: () => new AutoFramer(),
  createStreamDecoder: () => new GeminiStreamDecoder(),
  createStreamEncoder: (opts = {}) => new GeminiStreamEncoder(opts),
  decodeError: decodeAnyError,
  encodeError: geminiErrorBody,
};
