/**
 * Session id extraction for session affinity (Go's extractSessionIDs), from lower-cased
 * request headers and the parsed JSON body.
 */

export interface SessionIds {
  primary: string;
  /**
   * First-turn id (message hash without the assistant text): a later turn inherits the
   * binding the first turn made under this id.
   */
  fallback?: string;
}

export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

const MAX_EXPLICIT_ID_BYTES = 256;
const HASH_TEXT_BYTES = 100;
const CLAUDE_SESSION_SUFFIX = /_session_([a-f0-9-]+)$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

const encoder = new TextEncoder();

/**
 * A client-provided id as Go's NormalizeExplicitID accepts it: no control characters,
 * trimmed, non-empty and at most 256 bytes. Anything else is ignored.
 */
export function normalizeExplicitId(raw: string): string {
  if (CONTROL_CHARS.test(raw)) return '';
  const id = raw.trim();
  if (id === '' || encoder.encode(id).length > MAX_EXPLICIT_ID_BYTES) return '';
  return id;
}

function header(headers: HeaderRecord, name: string): string {
  const value = headers[name];
  const values = typeof value === 'string' ? [value] : (value ?? []);
  for (const v of values) {
    const id = normalizeExplicitId(v);
    if (id !== '') return id;
  }
  return '';
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** gjson's Result.String() for an already-parsed value. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** Claude Code's session in metadata.user_id: JSON form {"session_id"} or "..._session_<uuid>". */
export function claudeMetadataSessionId(body: unknown): string {
  const userId = text(record(record(body)?.['metadata'])?.['user_id']).trim();
  if (userId === '') return '';
  if (userId.startsWith('{')) {
    try {
      return normalizeExplicitId(text(record(JSON.parse(userId))?.['session_id']));
    } catch {
      return '';
    }
  }
  const match = CLAUDE_SESSION_SUFFIX.exec(userId);
  return match?.[1] ? normalizeExplicitId(match[1]) : '';
}

/**
 * Session ids in priority order: X-Claude-Code-Session-Id; Claude metadata.user_id session
 * ("claude:"); X-Session-ID ("header:"); X-Amp-Thread-Id ("amp:"); other metadata.user_id
 * ("user:"); conversation_id ("conv:"); prompt_cache_key ("pck:"); finally the message hash
 * ("msg:%016x") with the first-turn hash as fallback. Undefined when nothing identifies a
 * session.
 */
export function extractSessionIds(headers: HeaderRecord, body: unknown): SessionIds | undefined {
  const claudeHeader = header(headers, 'x-claude-code-session-id');
  if (claudeHeader !== '') return { primary: `claude:${claudeHeader}` };
  const claudeMetadata = claudeMetadataSessionId(body);
  if (claudeMetadata !== '') return { primary: `claude:${claudeMetadata}` };
  const sessionHeader = header(headers, 'x-session-id');
  if (sessionHeader !== '') return { primary: `header:${sessionHeader}` };
  const ampThread = header(headers, 'x-amp-thread-id');
  if (ampThread !== '') return { primary: `amp:${ampThread}` };

  const root = record(body);
  if (!root) return undefined;
  const userId = normalizeExplicitId(text(record(root['metadata'])?.['user_id']));
  if (userId !== '') return { primary: `user:${userId}` };
  const conversationId = normalizeExplicitId(text(root['conversation_id']));
  if (conversationId !== '') return { primary: `conv:${conversationId}` };
  const promptCacheKey = normalizeExplicitId(text(root['prompt_cache_key']));
  if (promptCacheKey !== '') return { primary: `pck:${promptCacheKey}` };
  return messageHashIds(root);
}

/** The ids as RouteRequest.sessionIds carries them: primary first, then the fallback. */
export function sessionIdList(ids: SessionIds | undefined): string[] {
  if (!ids) return [];
  return ids.fallback !== undefined && ids.fallback !== ids.primary ? [ids.primary, ids.fallback] : [ids.primary];
}

/** Go truncates by bytes (a multi-byte character may be cut); hashing works on those bytes. */
function truncated(value: string): Uint8Array {
  const bytes = encoder.encode(value);
  return bytes.length > HASH_TEXT_BYTES ? bytes.slice(0, HASH_TEXT_BYTES) : bytes;
}

interface FirstTexts {
  system?: Uint8Array;
  user?: Uint8Array;
  assistant?: Uint8Array;
}

function arrayOf(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** Go's extractMessageContent: a string, or the "text" parts of an array joined by spaces. */
function messageContent(content: unknown): string {
  if (typeof content === 'string') return content;
  const parts = arrayOf(content);
  if (!parts) return '';
  return parts
    .map(record)
    .filter((p) => text(p?.['type']) === 'text')
    .map((p) => text(p?.['text']))
    .filter((t) => t !== '')
    .join(' ');
}

/** Go's extractResponsesAPIContent: input_text / output_text / text parts joined by spaces. */
function responsesContent(content: unknown): string {
  const parts = arrayOf(content);
  if (!parts) return '';
  return parts
    .map(record)
    .filter((p) => ['input_text', 'output_text', 'text'].includes(text(p?.['type'])))
    .map((p) => text(p?.['text']))
    .filter((t) => t !== '')
    .join(' ');
}

function firstPartText(parts: unknown): string {
  for (const part of arrayOf(parts) ?? []) {
    const t = text(record(part)?.['text']);
    if (t !== '') return t;
  }
  return '';
}

/** Fills the first system/user/assistant texts from the body the way Go walks each format. */
function collectFirstTexts(root: Record<string, unknown>): FirstTexts {
  const found: FirstTexts = {};
  // OpenAI chat / Claude messages.
  for (const raw of arrayOf(root['messages']) ?? []) {
    const msg = record(raw);
    const content = messageContent(msg?.['content']);
    if (content === '') continue;
    const role = text(msg?.['role']);
    if (role === 'system') found.system ??= truncated(content);
    else if (role === 'user') found.user ??= truncated(content);
    else if (role === 'assistant') found.assistant ??= truncated(content);
    if (found.system && found.user && found.assistant) break;
  }
  // Claude top-level system (string or blocks).
  if (!found.system && root['system'] !== undefined) {
    const system = root['system'];
    if (Array.isArray(system)) {
      const t = firstPartText(system);
      if (t !== '') found.system = truncated(t);
    } else if (typeof system === 'string') {
      found.system = truncated(system);
    }
  }
  // Gemini: systemInstruction.parts and contents[].parts (first text part of each content).
  if (!found.system && !found.user) {
    const sys = firstPartText(record(root['systemInstruction'])?.['parts']);
    if (sys !== '') found.system = truncated(sys);
    for (const raw of arrayOf(root['contents']) ?? []) {
      const msg = record(raw);
      const t = firstPartText(msg?.['parts']);
      if (t !== '') {
        const role = text(msg?.['role']);
        if (role === 'user') found.user ??= truncated(t);
        else if (role === 'model') found.assistant ??= truncated(t);
      }
      if (found.user && found.assistant) break;
    }
  }
  // OpenAI Responses: instructions and input[] message items.
  if (!found.system && !found.user) {
    const instructions = text(root['instructions']);
    if (instructions !== '') found.system = truncated(instructions);
    for (const raw of arrayOf(root['input']) ?? []) {
      const item = record(raw);
      const type = text(item?.['type']);
      if (type === 'reasoning' || (type !== '' && type !== 'message')) continue;
      const role = text(item?.['role']);
      if (type === '' && role === '') continue;
      const content = item?.['content'];
      const t = typeof content === 'string' ? content : responsesContent(content);
      if (t === '') continue;
      if (role === 'developer' || role === 'system') found.system ??= truncated(t);
      else if (role === 'user') found.user ??= truncated(t);
      else if (role === 'assistant') found.assistant ??= truncated(t);
      if (found.user && found.assistant) break;
    }
  }
  return found;
}

/**
 * Go's extractMessageHashIDs: without an assistant text the first-turn hash is the primary
 * id; with one, the full hash is primary and the first-turn hash the fallback.
 */
export function messageHashIds(body: unknown): SessionIds | undefined {
  const root = record(body);
  if (!root) return undefined;
  const found = collectFirstTexts(root);
  if (!found.system && !found.user) return undefined;
  const short = sessionHash(found.system, found.user, undefined);
  if (!found.assistant) return { primary: short };
  return { primary: sessionHash(found.system, found.user, found.assistant), fallback: short };
}

function sessionHash(
  system: Uint8Array | undefined,
  user: Uint8Array | undefined,
  assistant: Uint8Array | undefined,
): string {
  let h = FNV64_OFFSET;
  const feed = (label: string, value: Uint8Array | undefined): void => {
    if (!value || value.length === 0) return;
    h = fnv1a64Update(h, encoder.encode(label));
    h = fnv1a64Update(h, value);
    h = fnv1a64Update(h, NEWLINE);
  };
  feed('sys:', system);
  feed('usr:', user);
  feed('ast:', assistant);
  return `msg:${h.toString(16).padStart(16, '0')}`;
}

const NEWLINE = encoder.encode('\n');
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

function fnv1a64Update(hash: bigint, bytes: Uint8Array): bigint {
  let h = hash;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV64_PRIME) & MASK64;
  return h;
}

/** FNV-1a 64-bit (Go's hash/fnv New64a) of a UTF-8 string or raw bytes. */
export function fnv1a64(input: string | Uint8Array): bigint {
  return fnv1a64Update(FNV64_OFFSET, typeof input === 'string' ? encoder.encode(input) : input);
}
