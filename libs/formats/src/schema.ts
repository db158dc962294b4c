import { isObject, type Json } from './util';

/**
 * Gemini's `parameters` accept an OpenAPI 3.0 subset of JSON Schema. Keys outside it make
 * the request fail with INVALID_ARGUMENT, so tool schemas are rewritten: local $refs
 * inlined, allOf merged, oneOf turned into anyOf, const into enum, type arrays into
 * `nullable`, and unsupported keywords removed.
 */
const KEEP = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
/** Gemini only accepts these string formats. */
const STRING_FORMATS = new Set(['enum', 'date-time']);

export function cleanSchemaForGemini(schema: unknown): Json {
  if (!isObject(schema)) return { type: 'object', properties: {} };
  const defs = {
    ...(isObject(schema.$defs) ? schema.$defs : {}),
    ...(isObject(schema.definitions) ? schema.definitions : {}),
  };
  return clean(schema, defs, 0);
}

function resolveRef(ref: string, defs: Json): Json | undefined {
  const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
  const target = m ? defs[decodeURIComponent(m[1])] : undefined;
  return isObject(target) ? target : undefined;
}

function clean(node: Json, defs: Json, depth: number): Json {
  // Recursive $refs cannot be expressed inline: stop at a generic object.
  if (depth > 24) return { type: 'object' };
  if (typeof node.$ref === 'string') {
    const target = resolveRef(node.$ref, defs);
    const { $ref: _ref, ...rest } = node;
    return clean({ ...(target ?? { type: 'object' }), ...rest }, defs, depth + 1);
  }
  if (Array.isArray(node.allOf)) {
    const { allOf, ...rest } = node;
    let merged: Json = { ...rest };
    for (const sub of allOf)
      if (isObject(sub)) merged = mergeSchemas(merged, sub.$ref ? clean(sub, defs, depth + 1) : sub);
    return clean(merged, defs, depth + 1);
  }
  const out: Json = {};
  let type = node.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length < type.length) out.nullable = true;
    if (nonNull.length === 1) type = nonNull[0];
    else if (nonNull.length > 1) {
      out.anyOf = nonNull.map((t) => ({ type: t }));
      type = undefined;
    } else type = undefined;
  }
  if (type !== undefined) out.type = type;
  for (const key of Object.keys(node)) {
    if (key === 'type') continue;
    const value = node[key];
    switch (key) {
      case 'properties':
        if (isObject(value)) {
          const props: Json = {};
          for (const [name, sub] of Object.entries(value))
            props[name] = isObject(sub) ? clean(sub, defs, depth + 1) : {};
          out.properties = props;
        }
        break;
      case 'items':
        if (isObject(value)) out.items = clean(value, defs, depth + 1);
        else if (Array.isArray(value) && isObject(value[0])) out.items = clean(value[0], defs, depth + 1);
        break;
      case 'anyOf':
      case 'oneOf':
        if (Array.isArray(value)) {
          const variants = value.filter(isObject);
          const nonNull = variants.filter((v) => v.type !== 'null');
          if (nonNull.length < variants.length) out.nullable = true;
          if (nonNull.length === 1) Object.assign(out, clean(nonNull[0], defs, depth + 1));
          else if (nonNull.length) out.anyOf = nonNull.map((v) => clean(v, defs, depth + 1));
        }
        break;
      case 'const':
        out.enum = [String(value)];
        if (out.type === undefined) out.type = 'string';
        break;
      case 'enum':
        if (Array.isArray(value)) {
          out.enum = value.filter((v) => v !== null).map(String);
          if (value.includes(null)) out.nullable = true;
        }
        break;
      case 'format':
        if (STRING_FORMATS.has(value)) out.format = value;
        break;
      case 'examples':
        if (Array.isArray(value) && value.length) out.example = value[0];
        break;
      default:
        if (KEEP.has(key)) out[key] = value;
    }
  }
  if (out.enum && out.type !== 'string') out.type = 'string';
  if (Array.isArray(out.required) && isObject(out.properties)) {
    const props = out.properties;
    out.required = out.required.filter((r: unknown) => typeof r === 'string' && r in props);
    if (!out.required.length) delete out.required;
  } else if (out.required && !out.properties) delete out.required;
  return out;
}

function mergeSchemas(a: Json, b: Json): Json {
  const merged: Json = { ...a, ...b };
  if (isObject(a.properties) || isObject(b.properties))
    merged.properties = { ...(a.properties ?? {}), ...(b.properties ?? {}) };
  if (Array.isArray(a.required) || Array.isArray(b.required))
    merged.required = [...new Set([...(a.required ?? []), ...(b.required ?? [])])];
  return merged;
}

/** Gemini schemas back to JSON Schema for clients of other formats (types are upper-case there). */
export function geminiSchemaToJsonSchema(schema: unknown): Json | undefined {
  if (!isObject(schema)) return undefined;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'type' && typeof value === 'string') out.type = value.toLowerCase();
    else if (key === 'nullable') continue;
    else if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, geminiSchemaToJsonSchema(v) ?? {}]),
      );
    } else if (key === 'items') out.items = geminiSchemaToJsonSchema(value);
    else if (key === 'anyOf' && Array.isArray(value)) out.anyOf = value.map((v) => geminiSchemaToJsonSchema(v) ?? {});
    else if (key === 'propertyOrdering') continue;
    else out[key] = value;
  }
  if (schema.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}
