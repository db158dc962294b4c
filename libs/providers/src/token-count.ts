import type { ClientFormat } from '@cpa/contracts';
import { codecFor, parseModelSuffix, type CanonicalRequest, type ContentPart } from '@cpa/formats';
import type { ProviderAdapter } from './provider-adapter';
import { upstreamFormatFor } from './translation';

/**
 * How a count-tokens request is answered:
 * - `relay`: the upstream counts in the client's own format (body passed through);
 * - `translate`: the upstream counts natively in another format (request re-encoded, count re-wrapped);
 * - `estimate`: the upstream cannot count (OpenAI formats): estimated locally, see `estimateInputTokens`.
 */
export type CountMode = 'relay' | 'translate' | 'estimate';

export interface CountPlan {
  mode: CountMode;
  upstream: ClientFormat;
}

/** Upstream formats with a count-tokens endpoint. */
const COUNTING_FORMATS: readonly ClientFormat[] = ['claude', 'gemini'];

export function planCountTokens(
  client: ClientFormat,
  adapter: Pick<ProviderAdapter, 'upstreamFormat' | 'nativeFormats'>,
): CountPlan {
  const upstream = upstreamFormatFor(client, adapter);
  if (!COUNTING_FORMATS.includes(upstream)) return { mode: 'estimate', upstream };
  return { mode: upstream === client ? 'relay' : 'translate', upstream };
}

/** Fields Anthropic's count_tokens accepts (it rejects max_tokens, stream and sampling fields). */
const CLAUDE_COUNT_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers'];

/** A count-tokens request body for a natively counting upstream of another format. */
export function countTokensRequestBody(
  upstream: ClientFormat,
  req: CanonicalRequest,
  upstreamModel: string,
): Record<string, unknown> {
  const full = codecFor(upstream).encodeRequest(req, { model: upstreamModel, stream: false }) as Record<
    string,
    unknown
  >;
  if (upstream === 'gemini') {
    // countTokens counts system instruction and tools only inside a full generateContentRequest.
    return { generateContentRequest: { model: `models/${parseModelSuffix(upstreamModel).baseModel}`, ...full } };
  }
  return Object.fromEntries(Object.entries(full).filter(([key]) => CLAUDE_COUNT_FIELDS.includes(key)));
}

/** The input-token count out of an upstream count-tokens answer. */
export function countFromResponse(upstream: ClientFormat, body: unknown): number | undefined {
  const json = body as Record<string, unknown> | null;
  const value = upstream === 'gemini' ? json?.totalTokens : json?.input_tokens;
  return typeof value === 'number' ? value : undefined;
}

/** A count in the client's count-tokens response shape. */
export function countTokensResponse(client: ClientFormat, tokens: number): Record<string, unknown> {
  return client === 'gemini' ? { totalTokens: tokens } : { input_tokens: tokens };
}

/** Tokens charged per image or non-text document in the local estimate (a mid-size image on current models). */
export const ESTIMATED_MEDIA_TOKENS = 1_000;
/** Average characters per token of English text and JSON in current tokenizers. */
export const CHARS_PER_TOKEN = 4;

function partChars(part: ContentPart): { chars: number; media: number } {
  switch (part.type) {
    case 'text':
      return { chars: part.text.length, media: 0 };
    case 'reasoning':
      return { chars: part.text.length, media: 0 };
    case 'tool_call':
      return { chars: part.name.length + part.arguments.length, media: 0 };
    case 'tool_result':
      return part.content.reduce(
        (acc, p) => {
          const c = partChars(p);
          return { chars: acc.chars + c.chars, media: acc.media + c.media };
        },
        { chars: 0, media: 0 },
      );
    case 'document':
      return part.source.kind === 'text' ? { chars: part.source.text.length, media: 0 } : { chars: 0, media: 1 };
    case 'image':
      return { chars: 0, media: 1 };
  }
}

/**
 * Local estimate of a request's input tokens, used when the serving upstream has no
 * count endpoint: characters of system, messages, tool calls, tool results and tool
 * definitions (name, description, JSON schema) divided by `CHARS_PER_TOKEN`, plus
 * `ESTIMATED_MEDIA_TOKENS` per image or binary document. Approximate by design.
 */
export function estimateInputTokens(req: CanonicalRequest): number {
  let chars = 0;
  let media = 0;
  for (const s of req.system ?? []) chars += s.text.length;
  for (const m of req.messages) {
    for (const part of m.content) {
      const c = partChars(part);
      chars += c.chars;
      media += c.media;
    }
  }
  for (const t of req.tools ?? [])
    chars += t.name.length + (t.description?.length ?? 0) + (t.parameters ? JSON.stringify(t.parameters).length : 0);
  return Math.ceil(chars / CHARS_PER_TOKEN) + media * ESTIMATED_MEDIA_TOKENS;
}
