import type { ClientFormat } from '@cpa/contracts';
import type { ContentPart, MediaSource, Message, Signature, ToolCallPart } from './canonical';

export type Json = Record<string, any>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray<T = any>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Removes keys whose value is undefined so encoded bodies carry no `"x": undefined` noise. */
export function compact<T extends Json>(obj: T): T {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Tool arguments travel as JSON text; formats that want an object get `{}` for empty/invalid text. */
export function argsToObject(args: string): Json {
  const parsed = args.trim().length ? parseJson(args) : undefined;
  return isObject(parsed) ? parsed : {};
}

export function objectToArgs(value: unknown): string {
  return value === undefined || value === null ? '{}' : JSON.stringify(value);
}

const DATA_URL = /^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$/s;

export function mediaFromUrl(url: string): MediaSource {
  const m = DATA_URL.exec(url);
  if (m) return { kind: 'base64', mediaType: m[1] ?? 'application/octet-stream', data: m[2] };
  return { kind: 'url', url };
}

export function dataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

/** A URL form for any media source (file handles cannot be turned into URLs: undefined). */
export function mediaToUrl(
  source: MediaSource | { kind: 'text'; text: string; mediaType?: string },
): string | undefined {
  if (source.kind === 'url') return source.url;
  if (source.kind === 'base64') return dataUrl(source.mediaType, source.data);
  if (source.kind === 'text')
    return dataUrl(source.mediaType ?? 'text/plain', Buffer.from(source.text, 'utf8').toString('base64'));
  return undefined;
}

/** Tool call ids for formats without ids (Gemini): stable for the same response and position. */
export function synthesizeCallId(scope: string, index: number): string {
  return `call_${sanitizeId(scope).slice(0, 40)}_${index}`;
}

/** Anthropic accepts only [a-zA-Z0-9_-] in tool ids; other formats are laxer. */
export function sanitizeId(id: string): string {
  return /^[a-zA-Z0-9_-]+$/.test(id) ? id : id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** A signature's value when `format` issued it: providers verify their own tokens and reject others'. */
export function ownSignature(sig: Signature | undefined, format: ClientFormat): string | undefined {
  return sig?.format === format ? sig.value : undefined;
}

/** Response ids carry a format prefix (chatcmpl-, resp_, msg_); ids from other formats get it added. */
export function prefixedId(id: string, prefix: string): string {
  return id.startsWith(prefix) ? id : `${prefix}${id}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A text document inlined as text where a format cannot attach it: the title heads the body. */
export function titledText(title: string | undefined, text: string): string {
  return title ? `${title}\n\n${text}` : text;
}

/** Tools without a schema still need one on the wire: an object taking no properties. */
export function toolParameters(tool: { parameters?: Record<string, unknown> }): Record<string, unknown> {
  return tool.parameters ?? { type: 'object', properties: {} };
}

export function textOf(parts: ReadonlyArray<ContentPart>): string {
  let out = '';
  for (const p of parts) if (p.type === 'text') out += p.text;
  return out;
}

/** Function name of a tool call id, looked up in the history (Gemini functionResponse needs names). */
export function callNames(messages: ReadonlyArray<Message>): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) for (const p of m.content) if (p.type === 'tool_call') names.set(p.id, p.name);
  return names;
}

export function isToolCall(p: ContentPart): p is ToolCallPart {
  return p.type === 'tool_call';
}

let counter = 0;
/** Response ids for synthesized messages; unique within the process, no randomness needed. */
export function newId(prefix: string): string {
  counter = (counter + 1) % 1_000_000_000;
  return `${prefix}${Date.now().toString(36)}${counter.toString(36)}`;
}
