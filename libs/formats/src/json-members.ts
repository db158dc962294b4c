import type { BodyLayout } from '@cpa/contracts';

/**
 * Top-level members of a JSON object, found in its bytes without parsing it: a gateway
 * needs only `model` and `stream` of a 100 KB body, and a same-format executor only
 * changes those. JSON.parse would turn every string of the body into a JavaScript string
 * (and JSON.stringify back into bytes) for the sake of one field.
 *
 * The scan checks the document's structure as JSON.parse does (values, commas, colons,
 * brackets, numbers, literals, nothing after the value; nesting of any depth, without
 * recursion) but not what is inside strings: escapes, control characters and UTF-8 pass
 * as they are, for the upstream to judge. A body JSON.parse would refuse only for those is
 * therefore passed on rather than refused here.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Strings shorter than this are scanned byte by byte; longer ones with the native indexOf. */
const SHORT_STRING = 48;

/**
 * The top-level members routing reads (the gateway: model, stream) and a same-format
 * rewrite may change (the executor: also stream_options): one scan at the gateway serves
 * both (`layoutOf`, `scanFromLayout`).
 */
export const ROUTED_MEMBERS: readonly string[] = ['model', 'stream', 'stream_options'];

export class JsonScanError extends Error {
  override name = 'JsonScanError';
}

/** Where a member's value lies in the bytes: `bytes.subarray(start, end)` is its JSON text. */
export interface ValueSpan {
  start: number;
  end: number;
}

export interface TopLevelMembers {
  /** The document is a JSON object (otherwise the other fields say nothing). */
  isObject: boolean;
  /** Value spans of the members asked for that are present; a repeated name keeps its last value, as JSON.parse does. */
  spans: Map<string, ValueSpan>;
  /** A member asked for occurs more than once (parsers disagree on which one counts). */
  repeated: boolean;
  /** Offset of the object's closing brace. */
  close: number;
  /** How many members the object has. */
  members: number;
}

type Container = 1 | 2;
const OBJECT: Container = 1;
const ARRAY: Container = 2;

/**
 * Scans `bytes` as one JSON document and returns where the top-level members named in
 * `names` have their values. Throws `JsonScanError` when the bytes are not JSON.
 */
export function scanTopLevelMembers(bytes: Uint8Array, names: readonly string[]): TopLevelMembers {
  const wanted = names.map((name) => Buffer.from(name, 'utf8'));
  const spans = new Map<string, ValueSpan>();
  let repeated = false;
  let members = 0;
  let close = -1;
  const n = bytes.length;
  const stack: Container[] = [];
  let i = skipSpace(bytes, 0);
  const isObject = bytes[i] === OPEN_OBJECT;
  /** Index in `names` of the top-level member whose value is being read, or -1. */
  let capture = -1;
  let captureStart = 0;
  // States: expecting a value, a member name, or what follows a value.
  let state: 'value' | 'name' | 'after' = 'value';
  for (;;) {
    if (state === 'value') {
      if (i >= n) throw new JsonScanError('unexpected end of JSON input');
      const c = bytes[i]!;
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        stack.push(c === OPEN_OBJECT ? OBJECT : ARRAY);
        i = skipSpace(bytes, i + 1);
        if (bytes[i] === (c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          stack.pop();
          if (stack.length === 0 && isObject) close = i;
          i++;
          state = 'after';
        } else state = c === OPEN_OBJECT ? 'name' : 'value';
        continue;
      }
      if (c === QUOTE) i = skipString(bytes, i);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = skipNumber(bytes, i);
      else i = skipLiteral(bytes, i);
      state = 'after';
      continue;
    }
    if (state === 'name') {
      if (bytes[i] !== QUOTE) throw new JsonScanError(`expected a member name at position ${i}`);
      const nameStart = i;
      i = skipString(bytes, i);
      const topLevel = stack.length === 1;
      if (topLevel) {
        members++;
        capture = matchName(bytes, nameStart, i, wanted);
        if (capture >= 0 && spans.has(names[capture]!)) repeated = true;
      }
      i = skipSpace(bytes, i);
      if (bytes[i] !== COLON) throw new JsonScanError(`expected ':' at position ${i}`);
      i = skipSpace(bytes, i + 1);
      if (topLevel) captureStart = i;
      state = 'value';
      continue;
    }
    // after a value
    if (capture >= 0 && stack.length === 1) {
      spans.set(names[capture]!, { start: captureStart, end: i });
      capture = -1;
    }
    i = skipSpace(bytes, i);
    if (stack.length === 0) {
      if (i !== n) throw new JsonScanError(`unexpected data after the JSON value at position ${i}`);
      return { isObject, spans, repeated, close, members };
    }
    const c = bytes[i];
    const top = stack[stack.length - 1];
    if (c === COMMA) {
      i = skipSpace(bytes, i + 1);
      state = top === OBJECT ? 'name' : 'value';
    } else if ((c === CLOSE_OBJECT && top === OBJECT) || (c === CLOSE_ARRAY && top === ARRAY)) {
      stack.pop();
      if (stack.length === 0 && isObject) close = i;
      i++;
    } else if (i >= n) throw new JsonScanError('unexpected end of JSON input');
    else throw new JsonScanError(`unexpected character at position ${i}`);
  }
}

/** The layout of a scan, or undefined when the scan cannot be reused (not an object, repeated members). */
export function layoutOf(bytes: Uint8Array, scan: TopLevelMembers, names: readonly string[]): BodyLayout | undefined {
  if (!scan.isObject || scan.repeated) return undefined;
  const spans: Record<string, [number, number]> = {};
  for (const [name, span] of scan.spans) spans[name] = [span.start, span.end];
  return { length: bytes.length, close: scan.close, members: scan.members, names: [...names], spans };
}

/**
 * The scan `layout` describes, if it fits `bytes`: same length, the closing brace where it
 * says, every span inside the object and starting where a value can start, and every one
 * of `names` looked for by the scan. Undefined otherwise (scan again).
 */
export function scanFromLayout(
  bytes: Uint8Array,
  layout: BodyLayout | undefined,
  names: readonly string[],
): TopLevelMembers | undefined {
  if (layout === undefined || layout.length !== bytes.length || bytes[layout.close] !== CLOSE_OBJECT) return undefined;
  if (bytes[skipSpace(bytes, 0)] !== OPEN_OBJECT || !names.every((name) => layout.names.includes(name)))
    return undefined;
  const spans = new Map<string, ValueSpan>();
  for (const [name, [start, end]] of Object.entries(layout.spans)) {
    if (!names.includes(name)) continue;
    if (!(start > 0 && start < end && end <= layout.close) || !VALUE_STARTS.has(bytes[start]!)) return undefined;
    if (!namedBefore(bytes, start, name)) return undefined;
    spans.set(name, { start, end });
  }
  return { isObject: true, spans, repeated: false, close: layout.close, members: layout.members };
}

/** Whether `"name"` and a colon (with any spaces) come right before `start`. */
function namedBefore(bytes: Uint8Array, start: number, name: string): boolean {
  let i = start - 1;
  while (i >= 0 && isSpace(bytes[i])) i--;
  if (bytes[i] !== COLON) return false;
  i--;
  while (i >= 0 && isSpace(bytes[i])) i--;
  // Member names here are ASCII (ROUTED_MEMBERS): their char codes are their bytes.
  const from = i - name.length - 1;
  if (from < 0 || bytes[from] !== QUOTE || bytes[i] !== QUOTE) return false;
  for (let k = 0; k < name.length; k++) if (bytes[from + 1 + k] !== name.charCodeAt(k)) return false;
  return true;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** First bytes of a JSON value: quote, brace, bracket, minus, digit, t, f, n. */
const VALUE_STARTS = new Set([
  QUOTE,
  OPEN_OBJECT,
  OPEN_ARRAY,
  0x2d,
  0x74,
  0x66,
  0x6e,
  ...'0123456789'.split('').map((d) => d.charCodeAt(0)),
]);

/** The text of a string value (its escapes decoded); undefined when the span holds no string. */
export function readJsonString(bytes: Uint8Array, span: ValueSpan): string | undefined {
  if (bytes[span.start] !== QUOTE) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + span.start, span.end - span.start).toString('utf8');
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : undefined;
  } catch {
    throw new JsonScanError('invalid escape in a string value');
  }
}

/** The value of a `true` / `false` span; undefined for anything else. */
export function readJsonBoolean(bytes: Uint8Array, span: ValueSpan): boolean | undefined {
  const length = span.end - span.start;
  if (length === 4 && bytes[span.start] === 0x74) return true;
  if (length === 5 && bytes[span.start] === 0x66) return false;
  return undefined;
}

/**
 * The bytes with top-level member values replaced (`set`: name -> JSON text of the new
 * value); a member not present is added at the end of the object. Everything else stays
 * byte for byte. `scan` must come from `scanTopLevelMembers` over the same bytes, with the
 * names of `set` among those asked for, and found no repeated one.
 *
 * The result is the new body's parts in order, to be sent back to back: the unchanged
 * stretches are views of `bytes`, not copies, so renaming the model of a 1 MB conversation
 * allocates a few bytes instead of a second megabyte.
 */
export function replaceTopLevelMembers(
  bytes: Buffer,
  scan: TopLevelMembers,
  set: ReadonlyMap<string, string>,
): Buffer[] {
  if (!scan.isObject || scan.repeated)
    throw new JsonScanError('can only replace members of an object without repeated names');
  const edits: { start: number; end: number; text: string }[] = [];
  let added = '';
  let count = scan.members;
  for (const [name, json] of set) {
    const span = scan.spans.get(name);
    if (span !== undefined) edits.push({ start: span.start, end: span.end, text: json });
    else added += `${count++ > 0 ? ',' : ''}${JSON.stringify(name)}:${json}`;
  }
  if (added !== '') edits.push({ start: scan.close, end: scan.close, text: added });
  edits.sort((a, b) => a.start - b.start);
  const parts: Buffer[] = [];
  let at = 0;
  for (const edit of edits) {
    parts.push(bytes.subarray(at, edit.start), Buffer.from(edit.text, 'utf8'));
    at = edit.end;
  }
  parts.push(bytes.subarray(at));
  return parts;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (isSpace(bytes[i])) i++;
  return i;
}

/** From an opening quote to just past its closing quote (an escaped quote does not close). */
function skipString(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  const shortEnd = Math.min(n, i + SHORT_STRING);
  let j = i + 1;
  for (; j < shortEnd; j++) {
    const c = bytes[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  if (j >= n) throw new JsonScanError('unterminated string');
  // A long string: jump from quote to quote natively; a quote after an odd run of backslashes is escaped.
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // j may sit just past a backslash that escapes bytes[j]; step over it before searching.
  let from = j;
  for (;;) {
    const q = buffer.indexOf(QUOTE, from);
    if (q < 0) throw new JsonScanError('unterminated string');
    let k = q - 1;
    while (bytes[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

function skipNumber(bytes: Uint8Array, i: number): number {
  const start = i;
  if (bytes[i] === 0x2d) i++;
  if (bytes[i] === 0x30) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else throw new JsonScanError(`invalid number at position ${start}`);
  if (bytes[i] === 0x2e) {
    i++;
    if (!isDigit(bytes[i])) throw new JsonScanError(`invalid number at position ${start}`);
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    if (!isDigit(bytes[i])) throw new JsonScanError(`invalid number at position ${start}`);
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

const LITERALS = [Buffer.from('true'), Buffer.from('false'), Buffer.from('null')];

function skipLiteral(bytes: Uint8Array, i: number): number {
  for (const literal of LITERALS) {
    if (bytes[i] !== literal[0]) continue;
    for (let k = 1; k < literal.length; k++)
      if (bytes[i + k] !== literal[k]) throw new JsonScanError(`unexpected token at position ${i}`);
    return i + literal.length;
  }
  throw new JsonScanError(i >= bytes.length ? 'unexpected end of JSON input' : `unexpected token at position ${i}`);
}

/** Which of `wanted` the member name between `start` (its opening quote) and `end` (past its closing one) is; -1 for none. */
function matchName(bytes: Uint8Array, start: number, end: number, wanted: readonly Buffer[]): number {
  const length = end - start - 2;
  for (let w = 0; w < wanted.length; w++) {
    const name = wanted[w]!;
    if (name.length === length) {
      let k = 0;
      while (k < length && bytes[start + 1 + k] === name[k]) k++;
      if (k === length) return w;
    }
  }
  // A name written with escapes ("mod\u0065l") is still that name.
  for (let k = start + 1; k < end - 1; k++) {
    if (bytes[k] !== BACKSLASH) continue;
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
    } catch {
      throw new JsonScanError('invalid escape in a member name');
    }
    return wanted.findIndex((name) => name.toString('utf8') === decoded);
  }
  return -1;
}
