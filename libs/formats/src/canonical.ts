import type { ClientFormat, TokenUsage } from '@cpa/contracts';

/**
 * The canonical model every codec decodes to and encodes from. It is a superset of the
 * four wire APIs: what a format cannot express is dropped by its encoder on purpose
 * (see README.md), never guessed.
 */

/** Opaque provider token that must be returned verbatim, only to the format that issued it. */
export interface Signature {
  format: ClientFormat;
  value: string;
}

export type MediaSource =
  | { kind: 'url'; url: string; mediaType?: string }
  | { kind: 'base64'; mediaType: string; data: string }
  /** Provider-side file handle (OpenAI file_id, Gemini fileUri) — only meaningful to its issuer. */
  | { kind: 'file'; fileId: string; mediaType?: string };

export interface TextPart {
  type: 'text';
  text: string;
  /** Anthropic prompt-caching marker; only the claude codec understands it. */
  cacheControl?: unknown;
}

export interface ImagePart {
  type: 'image';
  source: MediaSource;
  /** OpenAI image detail hint (auto/low/high). */
  detail?: string;
}

export interface DocumentPart {
  type: 'document';
  source: MediaSource | { kind: 'text'; text: string; mediaType?: string };
  title?: string;
}

export interface ReasoningPart {
  type: 'reasoning';
  /** Visible reasoning text (Claude thinking, OpenAI summary, Gemini thought text). */
  text: string;
  signature?: Signature;
  /** Claude redacted_thinking data or OpenAI encrypted_content with no visible text. */
  redacted?: Signature;
  /** OpenAI Responses reasoning item id (rs_...). */
  id?: string;
}

export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  /** Arguments as JSON text, exactly as produced (OpenAI streams it as text). */
  arguments: string;
  /** Gemini thoughtSignature carried on functionCall parts. */
  signature?: Signature;
}

export interface ToolResultPart {
  type: 'tool_result';
  callId: string;
  /** Function name when the source format states it (Gemini needs it; others resolve it from the call). */
  name?: string;
  content: Array<TextPart | ImagePart | DocumentPart>;
  isError?: boolean;
}

export type ContentPart = TextPart | ImagePart | DocumentPart | ReasoningPart | ToolCallPart | ToolResultPart;

export interface Message {
  role: 'user' | 'assistant';
  content: ContentPart[];
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON schema of the arguments (full JSON Schema; the gemini codec cleans it). */
  parameters?: Record<string, unknown>;
  strict?: boolean;
  cacheControl?: unknown;
}

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'auto'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export interface ReasoningConfig {
  effort?: ReasoningEffort;
  /** Token budget (Claude budget_tokens, Gemini thinkingBudget; -1 = dynamic). */
  budgetTokens?: number;
  /** OpenAI reasoning summary mode. */
  summary?: 'auto' | 'concise' | 'detailed' | 'none';
  /** Whether the client wants reasoning text back (Gemini includeThoughts, Claude thinking). */
  includeThoughts?: boolean;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name?: string; schema: Record<string, unknown>; strict?: boolean };

export interface CanonicalRequest {
  model: string;
  stream: boolean;
  system?: TextPart[];
  messages: Message[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  reasoning?: ReasoningConfig;
  responseFormat?: ResponseFormat;
}

export type StopReason =
  'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'content_filter' | 'pause_turn' | 'refusal' | 'error';

/** Token counts. inputTokens includes cached/cache-write tokens; outputTokens includes reasoning. */
export interface Usage extends TokenUsage {
  cacheCreationTokens?: number;
}

export interface CanonicalResponse {
  id: string;
  model: string;
  created?: number;
  content: Array<TextPart | ReasoningPart | ToolCallPart>;
  stopReason: StopReason;
  stopSequence?: string;
  usage?: Usage;
}

export interface CanonicalError {
  status?: number;
  /** Provider error type/code, kept for same-family clients. */
  type?: string;
  message: string;
}

/**
 * Incremental stream events. Deltas carry no block framing: encoders that need blocks
 * (claude, responses) open and close them as the kind of delta changes.
 */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; created?: number; usage?: Usage }
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text?: string; signature?: Signature; redacted?: Signature; id?: string }
  /** `index` counts tool calls in this response (0-based); id/name arrive on the first delta. */
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments?: string; signature?: Signature }
  | { type: 'finish'; reason: StopReason; stopSequence?: string }
  | { type: 'usage'; usage: Usage }
  /** The upstream said the response is complete (message_stop, [DONE], response.completed, ...). */
  | { type: 'done' }
  | { type: 'error'; error: CanonicalError };

export type StreamSink = (event: StreamEvent) => void;
