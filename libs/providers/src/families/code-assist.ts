import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { RouteActions } from '@cpa/contracts';
import type { CredentialSecret, JsonObject, UpstreamBody, UpstreamCall } from '../provider-adapter';
import { joinUrl, parseJsonObject } from '../provider-adapter';
import { geminiMethod } from './gemini';

/**
 * Cloud Code Assist (`cloudcode-pa`), the backend of the Gemini CLI and of Antigravity:
 * Gemini bodies wrapped as `{model, project, request}`, answers wrapped as `{response}`.
 * Client identities (versions) are kept here, in one place; they move often upstream.
 */
export const CODE_ASSIST_BASE_URL = 'https://cloudcode-pa.googleapis.com';
export const CODE_ASSIST_VERSION = 'v1internal';

/** Gemini CLI release whose identity requests carry (CLIProxyAPI's GeminiCLIVersion). */
export const GEMINI_CLI_VERSION = '0.34.0';
/** The X-Goog-Api-Client the Gemini CLI's genai SDK sends. */
export const GEMINI_CLI_API_CLIENT = 'google-genai-sdk/1.41.0 gl-node/v22.19.0';

/** Antigravity release whose identity requests carry (CLIProxyAPI's fallback version, >= 2.9.0 for newer models). */
export const ANTIGRAVITY_VERSION = '2.9.1';
export const ANTIGRAVITY_USER_AGENT = `antigravity/${ANTIGRAVITY_VERSION} darwin/arm64`;
/** Antigravity's base URLs, tried in this order when one is unreachable or rate limited. */
export const ANTIGRAVITY_BASE_URLS = [
  CODE_ASSIST_BASE_URL,
  'https://daily-cloudcode-pa.googleapis.com',
  'https://daily-cloudcode-pa.sandbox.googleapis.com',
] as const;

/** `GeminiCLI/<version>/<model> (<platform>; <arch>)`, platform and arch as Node names them. */
export function geminiCliUserAgent(model: string): string {
  return `GeminiCLI/${GEMINI_CLI_VERSION}/${model || 'unknown'} (${process.platform}; ${process.arch})`;
}

/** `{base}/v1internal:{method}`, with `?alt=sse` for SSE streams. */
export function codeAssistUrl(base: string, call: UpstreamCall, stream: boolean): string {
  const { action, query } = geminiMethod(call, stream);
  return joinUrl(base, `/${CODE_ASSIST_VERSION}:${action}${query}`);
}

/** The Code Assist project a Google-account credential works in (stored with its tokens). */
export function projectOf(secret: CredentialSecret): string {
  const project = secret.projectId;
  return typeof project === 'string' ? project.trim() : '';
}

type Json = JsonObject;

/**
 * countTokens takes `{request}` without safety settings; a Gemini countTokens body may
 * hold its request as `generateContentRequest`.
 */
function countTokensBody(body: Json, model: string): Json {
  const inner = (body.generateContentRequest as Json | undefined) ?? body;
  const { safetySettings: _, ...request } = inner;
  return { request: { ...request, model: `models/${model}` } };
}

/** The Gemini CLI's envelope: `{model, project, request}`. */
export function wrapGeminiCli(call: UpstreamCall, body: UpstreamBody): Buffer {
  const json = parseJsonObject(body);
  if (call.route.action === RouteActions.countTokens)
    return Buffer.from(JSON.stringify(countTokensBody(json, call.upstreamModel)));
  const project = projectOf(call.secret);
  if (!project) throw new Error('credential has no Code Assist project id');
  return Buffer.from(JSON.stringify({ model: call.upstreamModel, project, request: json }));
}

/**
 * Antigravity's envelope: the Gemini CLI's plus `userAgent`, `requestType`, a fresh
 * `requestId` and a `request.sessionId` that stays the same across a conversation's
 * turns (so upstream caching sees one session); safety settings are not accepted.
 */
export function wrapAntigravity(call: UpstreamCall, body: UpstreamBody): Buffer {
  const json = parseJsonObject(body);
  if (call.route.action === RouteActions.countTokens)
    return Buffer.from(JSON.stringify(countTokensBody(json, call.upstreamModel)));
  const { safetySettings: _, ...request } = json;
  const image = call.upstreamModel.includes('image');
  const envelope: Json = {
    model: call.upstreamModel,
    userAgent: 'antigravity',
    requestType: image ? 'image_gen' : 'agent',
  };
  const project = projectOf(call.secret);
  if (project) envelope.project = project;
  if (image) envelope.requestId = `image_gen/${Date.now()}/${randomUUID()}/12`;
  else {
    envelope.requestId = `agent-${randomUUID()}`;
    if (typeof request.sessionId !== 'string' || !request.sessionId)
      request.sessionId = antigravitySessionId(request.contents);
  }
  envelope.request = request;
  return Buffer.from(JSON.stringify(envelope));
}

const INT64_MAX = (1n << 63n) - 1n;
const positiveInt64 = (bytes: Buffer) => `-${(bytes.readBigUInt64BE(0) & INT64_MAX).toString()}`;

/**
 * `-<n>` where n is the first 8 bytes of SHA-256(first user text) as a positive int64 (as
 * CLIProxyAPI derives it, so a conversation keeps its session across both routers); a
 * random one when the conversation has no user text.
 */
export function antigravitySessionId(contents: unknown): string {
  if (Array.isArray(contents)) {
    for (const content of contents as Json[]) {
      if (content?.role !== 'user' || !Array.isArray(content.parts)) continue;
      const text = (content.parts[0] as Json | undefined)?.text;
      if (typeof text !== 'string' || text === '') continue;
      return positiveInt64(createHash('sha256').update(text).digest());
    }
  }
  return positiveInt64(randomBytes(8));
}

/** Antigravity's base URLs: the credential's own, else ANTIGRAVITY_BASE_URL (one URL or a comma list), else Google's three. */
export function antigravityBases(credentialBase: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (credentialBase) return [credentialBase];
  const configured = (env.ANTIGRAVITY_BASE_URL ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  return configured.length ? configured : [...ANTIGRAVITY_BASE_URLS];
}
