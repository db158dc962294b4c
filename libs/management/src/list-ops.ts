import { z } from 'zod';
import { badRequest, notFound } from './management-error';

/**
 * CLIProxyAPI's list conventions as pure functions over arrays: the services load the
 * current list, apply one of these and write the result back in one transaction.
 */

/** PUT body: a raw array, or `{"items": [...]}` (which must not be empty). */
export function parsePutBody<T>(body: unknown, item: z.ZodType<T>, section: string): T[] {
  const raw = Array.isArray(body)
    ? body
    : isObject(body) && Array.isArray(body.items) && body.items.length > 0
      ? body.items
      : undefined;
  if (!raw) throw badRequest('invalid body');
  return raw.map((entry, index) => parseItem(item, entry, `${section}[${index}]`));
}

export function parseItem<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = [path, ...issue.path.map(String)].filter(Boolean).join('.');
    throw badRequest(where ? `${where}: ${issue.message}` : issue.message);
  }
  return result.data;
}

const IndexSchema = z.number().int();

const StringPatchSchema = z.union([
  z.object({ index: IndexSchema, value: z.string() }),
  z.object({ old: z.string(), new: z.string() }),
]);

/** PATCH of a string list: `{"index","value"}` replaces one item; `{"old","new"}` replaces or appends. */
export function patchStringList(list: readonly string[], body: unknown): string[] {
  const patch = StringPatchSchema.safeParse(body);
  if (!patch.success) throw badRequest('missing fields');
  const next = [...list];
  if ('index' in patch.data) {
    const { index, value } = patch.data;
    if (index < 0 || index >= next.length) throw notFound();
    next[index] = value.trim();
    return next;
  }
  const at = next.indexOf(patch.data.old);
  if (at >= 0) next[at] = patch.data.new.trim();
  else next.push(patch.data.new.trim());
  return next;
}

export interface ListQuery {
  index?: string;
  value?: string;
}

/** DELETE of a string list: `?index=` removes one item, `?value=` removes every equal item. */
export function deleteFromStringList(list: readonly string[], query: ListQuery): string[] {
  const index = parseIndex(query.index, list.length);
  if (index !== undefined) return list.filter((_, i) => i !== index);
  const value = query.value?.trim();
  if (value) return list.filter((item) => item.trim() !== value);
  throw badRequest('missing index or value');
}

function parseIndex(text: string | undefined, length: number): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const index = Number(text);
  return Number.isInteger(index) && index >= 0 && index < length ? index : undefined;
}

/** How to address entries of an object list (by api-key, or by name for openai-compatibility). */
export interface EntryListSpec<T> {
  section: string;
  /** Validates a whole entry. */
  schema: z.ZodType<T>;
  /** The identifying value `match`, `old` and `?value=` compare with. */
  keyOf: (entry: T) => string;
  /** Name of the query parameter that also addresses an entry (`api-key` or `name`). */
  keyParam: string;
}

const EntryPatchSchema = z.object({
  index: IndexSchema.optional(),
  match: z.string().optional(),
  value: z.record(z.string(), z.unknown()).optional(),
  old: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  new: z.record(z.string(), z.unknown()).optional(),
});

/**
 * PATCH of an object list. `{"index"|"match", "value"}`: a value carrying the key field
 * (`api-key`, or `name`) is the whole new entry; a value without it is merged into the
 * addressed entry as a partial patch. `{"old","new"}` replaces the entry whose key equals
 * `old` (a key, or an entry carrying one) with `new`.
 */
export function patchEntryList<T extends object>(list: readonly T[], body: unknown, spec: EntryListSpec<T>): T[] {
  const parsed = EntryPatchSchema.safeParse(body);
  if (!parsed.success) throw badRequest('invalid body');
  const patch = parsed.data;
  const next = [...list];
  if (patch.old !== undefined && patch.new !== undefined) {
    const oldKey = typeof patch.old === 'string' ? patch.old.trim() : keyFromLoose(patch.old, spec);
    const at = next.findIndex((entry) => spec.keyOf(entry) === oldKey);
    if (at < 0) throw notFound();
    next[at] = parseItem(spec.schema, patch.new, `${spec.section}[${at}]`);
    return next;
  }
  if (!patch.value) throw badRequest('invalid body');
  const at = locate(next, patch.index, patch.match, spec);
  // A value that names the entry's key is a whole new entry; otherwise it patches fields.
  const whole = spec.keyParam in patch.value;
  next[at] = parseItem(spec.schema, whole ? patch.value : { ...next[at], ...patch.value }, `${spec.section}[${at}]`);
  return next;
}

function locate<T>(
  list: readonly T[],
  index: number | undefined,
  match: string | undefined,
  spec: EntryListSpec<T>,
): number {
  if (index !== undefined && index >= 0 && index < list.length) return index;
  const key = match?.trim();
  if (key) {
    const hits = list.flatMap((entry, i) => (spec.keyOf(entry) === key ? [i] : []));
    if (hits.length > 1) throw badRequest('multiple items match; index is required');
    if (hits.length === 1) return hits[0];
  }
  throw notFound();
}

function keyFromLoose<T>(value: Record<string, unknown>, spec: EntryListSpec<T>): string {
  const key = value[spec.keyParam];
  return typeof key === 'string' ? key.trim() : '';
}

/** DELETE of an object list: `?index=`, or the key as `?<keyParam>=` or `?value=`. */
export function deleteFromEntryList<T>(
  list: readonly T[],
  query: ListQuery & Record<string, string | undefined>,
  spec: EntryListSpec<T>,
): T[] {
  const key = (query[spec.keyParam] ?? query.value)?.trim();
  if (key) {
    const hits = list.flatMap((entry, i) => (spec.keyOf(entry) === key ? [i] : []));
    if (hits.length === 0) throw notFound();
    if (hits.length > 1) throw badRequest(`multiple items match ${spec.keyParam}; index is required`);
    return list.filter((_, i) => i !== hits[0]);
  }
  const index = parseIndex(query.index, list.length);
  if (index !== undefined) return list.filter((_, i) => i !== index);
  throw badRequest(`missing ${spec.keyParam} or index`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
