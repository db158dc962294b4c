import type { ClientFormat, CredentialKind, ProviderFamily, RouteRequest } from '@cpa/contracts';

/** Decrypted credential material, as stored encrypted in Postgres. */
export interface CredentialSecret {
  apiKey?: string;
  accessToken?: string;
  refreshToken?: string;
  [field: string]: unknown;
}

/** Everything an adapter needs to address one upstream attempt. */
export interface UpstreamCall {
  route: RouteRequest;
  /** Wire format of this call (the adapter's upstreamFormat, or a native format it also speaks). */
  format: ClientFormat;
  /** Model name upstream, without a thinking suffix (that is applied in the body). */
  upstreamModel: string;
  kind: CredentialKind;
  baseUrl: string;
  headers: Record<string, string>;
  secret: CredentialSecret;
  /** The credential's id: subscription dialects derive identities that stay stable per account from it. */
  credentialId?: string;
}

export interface UpstreamTarget {
  url: string;
  headers: Record<string, string>;
  /**
   * Further URLs tried in order when the one before is unreachable or answers 429
   * (Antigravity's Cloud Code base URLs). Same headers and body.
   */
  fallbackUrls?: readonly string[];
}

/**
 * One provider family's wire details: where requests go and how credentials are
 * injected. Translation between formats is the codecs' job, not the adapter's.
 */
export interface ProviderAdapter {
  readonly family: ProviderFamily;
  /** The API format this family's upstream speaks. */
  readonly upstreamFormat: ClientFormat;
  /** Other client formats the upstream speaks natively (served without translation). */
  readonly nativeFormats?: readonly ClientFormat[];
  /** The upstream only answers with streams: non-streaming clients get the stream aggregated. */
  readonly streamingOnly?: boolean;
  /** The upstream cannot stream: streaming clients get its one answer re-emitted as a stream. */
  readonly streamingUnsupported?: boolean;
  target(call: UpstreamCall, stream: boolean): UpstreamTarget;
  /**
   * The family's own changes to a body already in the upstream format (wrappers, removed
   * fields, identity blocks). Runs after translation, on this family's requests only, after
   * target(): headers that depend on the body (Claude's body `betas` moving into Anthropic-Beta)
   * are set on `target` (which ExecutionService always passes).
   */
  prepareBody?(call: UpstreamCall, body: UpstreamBody, stream: boolean, target?: UpstreamTarget): UpstreamBody;
  /**
   * The secret lacks something the refresh worker fills in (Antigravity's Code Assist
   * project, looked up on refresh): the executor has it refreshed before the call.
   */
  secretIncomplete?(secret: CredentialSecret): boolean;
  /** The status routing should see for an upstream error (e.g. an overload reported as 400 counts as 429). */
  failureStatus?(status: number, body: string): number;
  /**
   * The upstream wraps its successful answers (Cloud Code Assist: `{"response": {...}}`
   * around every JSON body and every stream event): returns one decoded JSON answer or
   * event in `upstreamFormat`. Applied before the codecs and the stream relay see it.
   */
  unwrapResponse?(json: unknown): unknown;
}

export function secretToken(secret: CredentialSecret): string {
  const token = secret.apiKey ?? secret.accessToken;
  if (!token) throw new Error('credential has no API key or access token');
  return token;
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * The bytes of an upstream request: one Buffer, or parts sent back to back (a body whose
 * model was renamed in place is the client's bytes around the new name, not a copy).
 */
export type UpstreamBody = Buffer | readonly Buffer[];

/** The body as one Buffer (parts are joined: for code that reads it, not for sending). */
export function joinedBody(body: UpstreamBody): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.concat(body);
}

export function upstreamBodyLength(body: UpstreamBody): number {
  if (Buffer.isBuffer(body)) return body.length;
  let length = 0;
  for (const part of body) length += part.length;
  return length;
}

export type JsonObject = Record<string, unknown>;

/** A request body as a JSON object (an empty body is `{}`); throws when it is anything else. */
export function parseJsonObject(body: UpstreamBody): JsonObject {
  const bytes = joinedBody(body);
  const json: unknown = bytes.length ? JSON.parse(bytes.toString('utf8')) : {};
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('request body must be a JSON object');
  return json as JsonObject;
}

/** The same, or undefined for a body that is not a JSON object (a dialect then leaves it as it is). */
export function tryParseJsonObject(body: UpstreamBody): JsonObject | undefined {
  try {
    return parseJsonObject(body);
  } catch {
    return undefined;
  }
}
