import type {
  DocumentPart,
  ImagePart,
  ResponseFormat,
  TextPart,
  ToolChoice,
  ToolDefinition,
  Usage,
} from '../../canonical';
import { asArray, compact, dataUrl, isObject, mediaFromUrl, num, str, type Json } from '../../util';

/** Where Chat Completions and Responses put the same token counts under different names. */
export interface OpenaiUsageFields {
  input: string;
  output: string;
  inputDetails: string;
  outputDetails: string;
}

export function decodeOpenaiUsage(u: unknown, f: OpenaiUsageFields): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u[f.input]) ?? 0, outputTokens: num(u[f.output]) ?? 0 };
  const cached = num(u[f.inputDetails]?.cached_tokens);
  const reasoning = num(u[f.outputDetails]?.reasoning_tokens);
  if (cached !== undefined) usage.cachedTokens = cached;
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  return usage;
}

export type InputPart = TextPart | ImagePart | DocumentPart;

/** Message content: a plain string, or parts (unknown part types are dropped). */
export function decodeInputContent(content: unknown, decodePart: (p: Json) => InputPart | undefined): InputPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return asArray<Json>(content)
    .map(decodePart)
    .filter((p): p is InputPart => !!p);
}

/**
 * A file input: `file_data` (a data URL, or bare base64 which OpenAI only accepts for PDFs),
 * `file_url` (Responses only: Chat has no such field) or an uploaded `file_id`.
 */
export function decodeOpenaiFile(f: Json, opts: { urls: boolean }): DocumentPart | undefined {
  const title = str(f.filename);
  if (typeof f.file_data === 'string') {
    const source = f.file_data.startsWith('data:')
      ? mediaFromUrl(f.file_data)
      : { kind: 'base64' as const, mediaType: 'application/pdf', data: f.file_data };
    return compact<DocumentPart>({ type: 'document', source, title });
  }
  if (opts.urls && typeof f.file_url === 'string')
    return compact<DocumentPart>({ type: 'document', source: { kind: 'url', url: f.file_url }, title });
  if (typeof f.file_id === 'string')
    return compact<DocumentPart>({ type: 'document', source: { kind: 'file', fileId: f.file_id }, title });
  return undefined;
}

/** The file fields of a document (undefined for text documents, and for URLs unless `urls`). */
export function encodeOpenaiFile(p: DocumentPart, opts: { urls: boolean }): Json | undefined {
  const s = p.source;
  if (s.kind === 'base64')
    return compact({ filename: p.title ?? 'document.pdf', file_data: dataUrl(s.mediaType, s.data) });
  if (s.kind === 'url') return opts.urls ? compact({ file_url: s.url, filename: p.title }) : undefined;
  if (s.kind === 'file') return compact({ file_id: s.fileId, filename: p.title });
  return undefined;
}

/** A JSON-schema response format's fields, nested under json_schema in Chat and flat in Responses' text.format. */
export function encodeJsonSchema(rf: Extract<ResponseFormat, { type: 'json_schema' }>): Json {
  return compact({ name: rf.name ?? 'response', schema: rf.schema, strict: rf.strict });
}

/** A function tool's fields, nested under `function` in Chat and at the top level in Responses. */
export function decodeFunctionTool(fn: Json): ToolDefinition {
  return compact({
    name: String(fn.name),
    description: str(fn.description),
    parameters: isObject(fn.parameters) ? fn.parameters : undefined,
    strict: typeof fn.strict === 'boolean' ? fn.strict : undefined,
  });
}

/** tool_choice: a mode string, or an object naming the function (`nameOf` knows where, undefined: none). */
export function decodeOpenaiToolChoice(tc: unknown, nameOf: (tc: Json) => string | undefined): ToolChoice | undefined {
  if (tc === 'auto' || tc === 'none' || tc === 'required') return { type: tc };
  const name = isObject(tc) ? nameOf(tc) : undefined;
  return name !== undefined ? { type: 'tool', name } : undefined;
}
