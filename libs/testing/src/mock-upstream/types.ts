import type { ClientFormat } from '@cpa/contracts';

/** A tool call the mock answers with (scripted, or derived from the request's tools). */
export interface MockToolCall {
  name: string;
  /** The call's arguments as an object; encoded as a JSON string where the wire format wants one. */
  args: Record<string, unknown>;
}

/** What the assistant "says"; replaces the default echo when scripted. */
export interface ScriptedReply {
  text?: string;
  toolCalls?: MockToolCall[];
  /** Reasoning text (Claude thinking block, Gemini thought part). */
  thinking?: string;
}

/**
 * Scripted behaviour for one upstream API key. Failure fields (`status` >= 400,
 * `closeBeforeFirstByte`, `closeMidStream`, `emptyStream`) apply to the first `failTimes`
 * requests (all requests when `failTimes` is unset); shaping fields always apply.
 */
export interface MockBehavior {
  /** Status to answer with. >= 400 without `body` gets the real API's error body for that status. */
  status?: number;
  /** Raw body (object -> JSON, string -> as is) replacing the generated one. */
  body?: unknown;
  headers?: Record<string, string>;
  /** 429s: sets Retry-After (OpenAI, Anthropic) or the RetryInfo retryDelay (Gemini). */
  retryAfterSeconds?: number;
  failTimes?: number;
  /** Wait before answering (before the status line). */
  delayMs?: number;
  /** Wait between stream events. */
  chunkDelayMs?: number;
  /** Number of pieces the reply text is split into when streamed (default 4, capped by the word count). */
  streamChunks?: number;
  /** Destroy the socket without sending anything. */
  closeBeforeFirstByte?: boolean;
  /** Send the head and about half of the events (or body), then destroy the socket. */
  closeMidStream?: boolean;
  /** A 200 stream that ends without a single event. */
  emptyStream?: boolean;
  reply?: ScriptedReply;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Node's lowercased request headers. */
  headers: Record<string, string | string[] | undefined>;
  /** The key the request authenticated with ('' when none was sent). */
  apiKey: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
  rawBody: string;
  /** The wire format the mock recognised from the path. */
  format: ClientFormat | 'models' | 'unknown';
}

export interface MockUpstreamOptions {
  /** Default 0 (any free port). */
  port?: number;
  host?: string;
  /** Keep every request in `requests` (default true; turn off for benchmarks). */
  record?: boolean;
  /** When set, other keys get the API's 401. */
  acceptKeys?: string[];
  /** Model ids for the model listings. */
  models?: string[];
}

export interface MockUpstream {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** `*` is the fallback for keys without their own behaviour. */
  setBehavior(apiKey: string, behavior: MockBehavior): void;
  clearBehavior(apiKey: string): void;
  /** Requests per API key since the last reset (recorded or not). */
  countByKey(): Record<string, number>;
  /** Forget requests, counts and behaviours. */
  reset(): void;
  close(): Promise<void>;
}
