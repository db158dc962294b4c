import type { MockToolCall, ScriptedReply } from './types';

/** Format-neutral view of a request: just what the mock needs to answer deterministically. */
export interface Conversation {
  model: string;
  /** Text of the last user turn; a trailing tool result reads "tool result: <content>". */
  lastUserText: string;
  /** Whitespace-separated words over system, messages and tool results: the mock's input token count. */
  promptWords: number;
  tools: ToolDecl[];
  lastTurnIsToolResult: boolean;
  wantsThinking: boolean;
}

export interface ToolDecl {
  name: string;
  schema: unknown;
}

export interface ReplyPlan {
  thinking: string;
  text: string;
  toolCalls: MockToolCall[];
  inputTokens: number;
  outputTokens: number;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13;
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}

/** Text of a content value that is a string or an array of typed blocks (OpenAI, Anthropic, Responses). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  const parts: string[] = [];
  for (const block of asArray(content)) {
    if (typeof block === 'string') parts.push(block);
    else if (isObj(block)) {
      if (typeof block.text === 'string') parts.push(block.text);
      else if (block.type === 'tool_result') parts.push(contentText(block.content));
    }
  }
  return parts.join(' ');
}

class Collector {
  words = 0;
  lastUserText = '';
  lastTurnIsToolResult = false;
  add(text: string): void {
    this.words += countWords(text);
  }
  userTurn(text: string): void {
    this.add(text);
    this.lastUserText = text;
    this.lastTurnIsToolResult = false;
  }
  toolResult(text: string): void {
    this.add(text);
    this.lastUserText = `tool result: ${text}`;
    this.lastTurnIsToolResult = true;
  }
}

function finish(model: string, c: Collector, tools: ToolDecl[], wantsThinking: boolean): Conversation {
  return {
    model,
    lastUserText: c.lastUserText,
    promptWords: c.words,
    tools,
    lastTurnIsToolResult: c.lastTurnIsToolResult,
    wantsThinking,
  };
}

export function fromOpenAIChat(body: Json): Conversation {
  const c = new Collector();
  for (const m of asArray(body.messages)) {
    if (!isObj(m)) continue;
    const text = contentText(m.content);
    if (m.role === 'user') c.userTurn(text);
    else if (m.role === 'tool') c.toolResult(text);
    else c.add(text);
  }
  const tools = asArray(body.tools).flatMap((t) =>
    isObj(t) && isObj(t.function) ? [{ name: str(t.function.name), schema: t.function.parameters }] : [],
  );
  return finish(str(body.model), c, tools, false);
}

export function fromOpenAICompletion(body: Json): Conversation {
  const c = new Collector();
  const prompt = body.prompt;
  c.userTurn(Array.isArray(prompt) ? prompt.map(str).join(' ') : str(prompt));
  return finish(str(body.model), c, [], false);
}

export function fromOpenAIResponses(body: Json): Conversation {
  const c = new Collector();
  c.add(str(body.instructions));
  if (typeof body.input === 'string') c.userTurn(body.input);
  for (const item of asArray(body.input)) {
    if (!isObj(item)) continue;
    if (item.type === 'function_call_output') c.toolResult(contentText(item.output));
    else if (item.role === 'user') c.userTurn(contentText(item.content));
    else if (item.type === 'function_call') c.add(str(item.arguments));
    else c.add(contentText(item.content));
  }
  const tools = asArray(body.tools).flatMap((t) =>
    isObj(t) && t.type === 'function' ? [{ name: str(t.name), schema: t.parameters }] : [],
  );
  // Reasoning items are not produced for Responses; the mock answers with text and calls only.
  return finish(str(body.model), c, tools, false);
}

export function fromAnthropic(body: Json): Conversation {
  const c = new Collector();
  c.add(contentText(body.system));
  for (const m of asArray(body.messages)) {
    if (!isObj(m)) continue;
    if (m.role !== 'user') {
      c.add(contentText(m.content));
      continue;
    }
    const blocks = asArray(m.content);
    const results = blocks.filter((b) => isObj(b) && b.type === 'tool_result');
    if (results.length > 0) c.toolResult(contentText(results));
    else c.userTurn(contentText(m.content));
  }
  const tools = asArray(body.tools).flatMap((t) =>
    isObj(t) && typeof t.name === 'string' ? [{ name: t.name, schema: t.input_schema }] : [],
  );
  const thinking = isObj(body.thinking) && (body.thinking.type === 'enabled' || body.thinking.type === 'adaptive');
  return finish(str(body.model), c, tools, thinking);
}

export function fromGemini(model: string, body: Json): Conversation {
  const c = new Collector();
  if (isObj(body.systemInstruction)) c.add(geminiPartsText(body.systemInstruction.parts));
  for (const content of asArray(body.contents)) {
    if (!isObj(content)) continue;
    const parts = asArray(content.parts);
    const responses = parts.filter((p) => isObj(p) && isObj(p.functionResponse));
    if (responses.length > 0) {
      c.toolResult(responses.map((p) => JSON.stringify(((p as Json).functionResponse as Json).response)).join(' '));
    } else if (content.role === 'model') c.add(geminiPartsText(parts));
    else c.userTurn(geminiPartsText(parts));
  }
  const tools: ToolDecl[] = [];
  for (const t of asArray(body.tools)) {
    if (!isObj(t)) continue;
    for (const f of asArray(t.functionDeclarations)) {
      if (isObj(f)) tools.push({ name: str(f.name), schema: f.parametersJsonSchema ?? f.parameters });
    }
  }
  const gen = isObj(body.generationConfig) ? body.generationConfig : {};
  const thinking = isObj(gen.thinkingConfig) && gen.thinkingConfig.includeThoughts === true;
  return finish(model, c, tools, thinking);
}

function geminiPartsText(parts: unknown): string {
  return asArray(parts)
    .flatMap((p) => (isObj(p) && typeof p.text === 'string' ? [p.text] : []))
    .join(' ');
}

/**
 * A sample value of a JSON schema, deterministic and schema-valid for the common subset;
 * strings carry the user's text so a test can see what reached upstream.
 */
export function sampleFromSchema(schema: unknown, text: string): unknown {
  if (!isObj(schema)) return text;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (typeof type === 'string' ? type.toLowerCase() : isObj(schema.properties) ? 'object' : 'string') {
    case 'object': {
      const out: Json = {};
      if (isObj(schema.properties)) {
        for (const [key, sub] of Object.entries(schema.properties)) out[key] = sampleFromSchema(sub, text);
      }
      return out;
    }
    case 'array':
      return [sampleFromSchema(schema.items, text)];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

/**
 * The tool the request asks for: a declared tool named in the last user text, else the
 * first tool when the text mentions "tool". A turn that carries a tool result is answered
 * with text, so a client's tool loop ends.
 */
function requestedTool(conv: Conversation): ToolDecl | undefined {
  if (conv.tools.length === 0 || conv.lastTurnIsToolResult) return undefined;
  const named = conv.tools.find((t) => t.name !== '' && conv.lastUserText.includes(t.name));
  if (named) return named;
  return /\btools?\b/i.test(conv.lastUserText) ? conv.tools[0] : undefined;
}

export function planReply(conv: Conversation, scripted: ScriptedReply | undefined): ReplyPlan {
  let thinking = '';
  let text: string;
  let toolCalls: MockToolCall[];
  if (scripted) {
    thinking = scripted.thinking ?? '';
    text = scripted.text ?? '';
    toolCalls = scripted.toolCalls ?? [];
  } else {
    const tool = requestedTool(conv);
    if (conv.wantsThinking) thinking = `thinking about: ${conv.lastUserText}`;
    if (tool) {
      text = '';
      toolCalls = [{ name: tool.name, args: sampleFromSchema(tool.schema, conv.lastUserText) as Json }];
    } else {
      text = `echo: ${conv.lastUserText}`;
      toolCalls = [];
    }
  }
  return {
    thinking,
    text,
    toolCalls,
    inputTokens: conv.promptWords,
    outputTokens: countWords(text) + countWords(thinking) + toolCalls.length,
  };
}

/** Splits text into at most `n` consecutive pieces on word boundaries; the pieces join back to `text`. */
export function splitText(text: string, n: number): string[] {
  if (text === '') return [];
  const words = text.match(/\S+\s*|\s+/g) ?? [text];
  const pieces = Math.max(1, Math.min(n, words.length));
  const per = Math.ceil(words.length / pieces);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}
