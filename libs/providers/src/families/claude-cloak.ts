import {
  CLAUDE_BETAS,
  CLAUDE_CODE,
  CLAUDE_COUNT_TOKENS_BETAS,
  CLAUDE_DEFAULT_BETAS,
  CLAUDE_MAX_CACHE_CONTROLS,
} from './client-profiles';
import { sha256Hex, stableUuid } from './stable-id';

/**
 * The Claude subscription (OAuth) dialect's pure parts: Anthropic-Beta merging and the
 * "cloaking" CLIProxyAPI applies to requests from clients other than Claude Code, whose
 * subscription tokens Anthropic only serves for Claude Code-shaped requests.
 * Facts from CLIProxyAPI internal/runtime/executor/claude_executor_{request,cloaking}.go.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Claude Code itself (User-Agent `claude-cli/...`) is passed through; everyone else is cloaked. */
export function isClaudeCodeClient(userAgent: string | undefined): boolean {
  return userAgent?.startsWith('claude-cli') ?? false;
}

export function splitBetas(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((beta) => beta.trim())
    .filter(Boolean);
}

/**
 * Anthropic-Beta for an OAuth request: the client's flags plus `oauth-2025-04-20` (right after
 * `claude-code-20250219` when that leads, else first) and `interleaved-thinking-2025-05-14` when
 * absent; Claude Code's default profile when the client sent none. Extra flags (a body's
 * `betas` array) are appended once.
 */
export function mergeBetas(
  clientHeader: string | undefined,
  extra: readonly string[] = [],
  countTokens = false,
): string {
  const client = [...new Set(splitBetas(clientHeader))];
  let betas: string[];
  if (client.length === 0) {
    betas = [...(countTokens ? CLAUDE_COUNT_TOKENS_BETAS : CLAUDE_DEFAULT_BETAS)];
  } else {
    betas = client;
    if (!betas.includes(CLAUDE_BETAS.oauth))
      betas.splice(betas[0] === CLAUDE_BETAS.claudeCode ? 1 : 0, 0, CLAUDE_BETAS.oauth);
    if (!betas.some((beta) => beta.startsWith('interleaved-thinking'))) betas.push(CLAUDE_BETAS.interleavedThinking);
  }
  for (const beta of extra) if (beta && !betas.includes(beta)) betas.push(beta);
  return betas.join(',');
}

/** Removes a body's `betas` (array or string), which Anthropic takes only as a header, and returns them. */
export function takeBodyBetas(body: Json): string[] {
  const betas = body.betas;
  if (betas === undefined) return [];
  delete body.betas;
  if (Array.isArray(betas))
    return betas
      .filter((beta): beta is string => typeof beta === 'string')
      .map((beta) => beta.trim())
      .filter(Boolean);
  return typeof betas === 'string' ? splitBetas(betas) : [];
}

/** Who the cloaked requests claim to be: derived from the credential, so stable across requests and replicas. */
export interface ClaudeIdentity {
  /** Stable key of the credential (its id; the access token when unknown). */
  credentialKey: string;
  /** The account's UUID when the login told us (secret `accountUuid`). */
  accountUuid?: string;
}

/** X-Claude-Code-Session-Id, and the session part of metadata.user_id. */
export function claudeSessionId(identity: ClaudeIdentity): string {
  return stableUuid('claude-code-session', identity.credentialKey);
}

/** `user_<64 hex>_account_<uuid>_session_<uuid>`, the metadata.user_id form Claude Code sends. */
export function claudeUserId(identity: ClaudeIdentity): string {
  const device = sha256Hex(`cpa\0claude-device\0${identity.credentialKey}`);
  const account = identity.accountUuid || stableUuid('claude-account', identity.credentialKey);
  return `user_${device}_account_${account}_session_${claudeSessionId(identity)}`;
}

const USER_ID =
  /^user_[0-9a-f]{64}_account_[0-9a-f-]*_session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isClaudeUserId(value: unknown): boolean {
  return typeof value === 'string' && USER_ID.test(value);
}

/**
 * The billing block Claude Code puts first in its system prompt:
 * `cc_version=<version>.<3 hex of SHA-256(salt + chars 4, 7, 20 of the last user text + version)>`.
 * CLIProxyAPI's unsigned form (no `cch`): the body signature is not reproduced here.
 */
export function billingHeader(messages: unknown, version: string = CLAUDE_CODE.version): string {
  const chars = Array.from(lastUserText(messages));
  const picked = [4, 7, 20].map((i) => chars[i] ?? '0').join('');
  const build = sha256Hex(`${CLAUDE_CODE.fingerprintSalt}${picked}${version}`).slice(0, 3);
  return `${CLAUDE_CODE.billingHeaderPrefix} cc_version=${version}.${build}; cc_entrypoint=cli;`;
}

/** The last non-empty text of a user turn (a string content, or the last text block of one). */
function lastUserText(messages: unknown): string {
  let text = '';
  if (!Array.isArray(messages)) return text;
  for (const message of messages) {
    if (!isObject(message) || message.role !== 'user') continue;
    let candidate = '';
    if (typeof message.content === 'string') candidate = message.content;
    else if (Array.isArray(message.content)) {
      for (const block of message.content)
        if (isObject(block) && block.type === 'text' && typeof block.text === 'string') candidate = block.text;
    }
    if (candidate) text = candidate;
  }
  return text;
}

/** The client's own system prompt as text parts (a string, or the text blocks of an array). */
function systemTexts(system: unknown): string[] {
  if (typeof system === 'string') return system.trim() ? [system.trim()] : [];
  if (!Array.isArray(system)) return [];
  return system.flatMap((block) =>
    isObject(block) && typeof block.text === 'string' && block.text.trim() ? [block.text.trim()] : [],
  );
}

/** True when the system prompt already opens like Claude Code's (optionally after the billing block). */
export function startsLikeClaudeCode(system: unknown): boolean {
  if (!Array.isArray(system)) return false;
  const blocks = system.filter(isObject);
  const first =
    typeof blocks[0]?.text === 'string' && (blocks[0].text as string).startsWith(CLAUDE_CODE.billingHeaderPrefix)
      ? blocks[1]
      : blocks[0];
  return typeof first?.text === 'string' && first.text.startsWith(CLAUDE_CODE.identity);
}

/** CLIProxyAPI's wrapper for a client's system prompt moved into the first user turn. */
export function systemReminder(text: string): string {
  return (
    "<system-reminder>\nAs you answer the user's questions, you can use the following context from the system:\n" +
    `${text}\n\nIMPORTANT: this context may or may not be relevant to your tasks. You should not respond to this context unless it is highly relevant to your task.\n</system-reminder>\n`
  );
}

/** Prepends text to the first user turn; false when there is none. */
function prependToFirstUserTurn(messages: unknown, text: string): boolean {
  if (!Array.isArray(messages)) return false;
  const first = messages.find((message): message is Json => isObject(message) && message.role === 'user');
  if (!first) return false;
  if (typeof first.content === 'string') first.content = text + first.content;
  else if (Array.isArray(first.content)) first.content = [{ type: 'text', text }, ...first.content];
  else return false;
  return true;
}

/**
 * Cloaks a freshly parsed Messages body in place (and returns it), as CLIProxyAPI does for
 * clients that are not Claude Code:
 * - system becomes Claude Code's blocks (billing block, then the agent identity with a cache
 *   breakpoint); the client's own system text is kept after them, moved into the first user
 *   turn as a `<system-reminder>` (third-party text in `system` is what Anthropic bills as
 *   non-Claude-Code use), or as further system blocks when there is no user turn;
 * - metadata.user_id gets the Claude Code form, stable per credential (a valid one is kept);
 * - at most 4 cache_control breakpoints remain.
 * count_tokens bodies only get the client's system text relocated: Claude Code counts
 * without its system blocks or metadata.
 */
export function cloakClaudeBody(body: Json, identity: ClaudeIdentity, countTokens: boolean): Json {
  if (!startsLikeClaudeCode(body.system)) {
    const clientSystem = systemTexts(body.system);
    const relocated =
      clientSystem.length > 0 && prependToFirstUserTurn(body.messages, systemReminder(clientSystem.join('\n\n')));
    if (countTokens) {
      if (relocated || clientSystem.length === 0) delete body.system;
    } else {
      const system: Json[] = [
        { type: 'text', text: billingHeader(body.messages) },
        { type: 'text', text: CLAUDE_CODE.identity, cache_control: { type: 'ephemeral' } },
      ];
      if (!relocated) for (const text of clientSystem) system.push({ type: 'text', text });
      body.system = system;
    }
  }
  if (!countTokens) {
    const metadata = isObject(body.metadata) ? body.metadata : {};
    if (!isClaudeUserId(metadata.user_id)) metadata.user_id = claudeUserId(identity);
    body.metadata = metadata;
  }
  limitCacheControls(body, CLAUDE_MAX_CACHE_CONTROLS);
  return body;
}

/**
 * Drops cache_control breakpoints beyond `max`, least valuable first (CLIProxyAPI's order):
 * system blocks earliest-first keeping the last, tool blocks earliest-first keeping the last,
 * message blocks earliest-first, then the last system block, then the last tool.
 */
export function limitCacheControls(body: Json, max: number): void {
  const withBreakpoint = (blocks: unknown): Json[] =>
    Array.isArray(blocks)
      ? blocks.filter((block): block is Json => isObject(block) && block.cache_control !== undefined)
      : [];
  const system = withBreakpoint(body.system);
  const tools = withBreakpoint(body.tools);
  const messages = Array.isArray(body.messages)
    ? body.messages.flatMap((message) => (isObject(message) ? withBreakpoint(message.content) : []))
    : [];
  let excess = system.length + tools.length + messages.length - max;
  const strip = (blocks: Json[]) => {
    for (const block of blocks) {
      if (excess <= 0) return;
      if (block.cache_control === undefined) continue;
      delete block.cache_control;
      excess--;
    }
  };
  if (excess <= 0) return;
  strip(system.slice(0, -1));
  strip(tools.slice(0, -1));
  strip(messages);
  strip(system);
  strip(tools);
}
