import type { ClientFormat } from './client-format';
import type { ProviderFamily } from './provider-family';

/**
 * What the gateway knows about a client request after reading it once. Travels as the
 * JSON part of a transport message; the request body travels beside it as raw bytes.
 */
export interface RouteRequest {
  requestId: string;
  clientFormat: ClientFormat;
  /** Model as the client named it (may carry prefix, alias or thinking suffix). */
  model: string;
  stream: boolean;
  /** Session-id candidates, best first (primary id, then the first-turn fallback). */
  sessionIds: string[];
  /** Id of the authenticated client API key (for usage), if any. */
  clientKeyId?: string;
  /** Extra upstream-relevant request details, e.g. the Gemini action or anthropic headers. */
  action?: string;
  headers: Record<string, string>;
  /** Epoch ms after which nobody waits for the answer any more. */
  deadline: number;
  /** Epoch ms the gateway received the request (start of its usage record's latency). */
  receivedAt?: number;
  /** Where the gateway found the members an executor may rewrite in the body (absent: not scanned, or not reusable). */
  bodyLayout?: BodyLayout;
}

/**
 * A scan of the body's top-level members (`scanTopLevelMembers` in @cpa/formats) in a form
 * that travels with the request: the gateway scans the client's bytes once, and an executor
 * rewriting the same bytes (same-format model rename) reuses it instead of scanning a
 * 100 KB body again. Describes only an object without repeated members.
 */
export interface BodyLayout {
  /** Byte length of the body described: a layout of any other body is ignored. */
  length: number;
  /** Offset of the object's closing brace. */
  close: number;
  /** How many members the object has. */
  members: number;
  /** The member names the scan looked for (one not listed may be anywhere). */
  names: string[];
  /** Value span `[start, end)` of each member looked for that is present. */
  spans: Record<string, [number, number]>;
}

/** One upstream attempt chosen by the scheduler. */
export interface ExecuteRequest {
  route: RouteRequest;
  credentialId: string;
  family: ProviderFamily;
  /** Model name to send upstream (alias resolved, prefix removed, suffix kept). */
  upstreamModel: string;
  /** Base model used for state and affinity (suffix and prefix removed). */
  baseModel: string;
  attempt: number;
  triedCredentialIds: string[];
}

/** An attempt that failed before its first byte: the scheduler decides on retry or final error. */
export interface AttemptFailure {
  execute: ExecuteRequest;
  status: number;
  headers: Record<string, string>;
  /** Upstream error body as text (JSON passes through to the client unchanged). */
  body: string;
  /** Parsed retry hint from Retry-After or Google's RetryInfo, in ms. */
  retryAfterMs?: number;
  /** True when the failure is a network error or timeout rather than an HTTP status. */
  network?: boolean;
}

/** Reported for every finished attempt (success or failure after the first byte). */
export interface AttemptResult {
  credentialId: string;
  family: ProviderFamily;
  baseModel: string;
  clientKeyId?: string;
  ok: boolean;
  status: number;
  usage?: TokenUsage;
  error?: string;
  retryAfterMs?: number;
  /** The client request this attempt answered (absent from executors of earlier versions). */
  request?: AnsweredRequest;
}

/**
 * What the executor that answered a client knows about the whole request, for its usage
 * record: times are epoch ms on the executor's clock, `receivedAt` on the gateway's.
 */
export interface AnsweredRequest {
  requestId: string;
  /** The model as the client named it. */
  model: string;
  /** Upstream attempts, this one included. */
  attempts: number;
  receivedAt?: number;
  /** When the first byte of a streamed answer was handed to the reply (streams only). */
  firstByteAt?: number;
  finishedAt: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}
