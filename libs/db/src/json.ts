import { Prisma } from './generated/prisma/client';

export type JsonObject = Record<string, unknown>;

/** A JSON column that should hold an object; anything else reads as empty. */
export function asObject(value: Prisma.JsonValue | null | undefined): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

export function asArray<T = unknown>(value: Prisma.JsonValue | null | undefined): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** Prisma distinguishes a JSON null from "no value"; callers just pass plain JSON. */
export function toJsonInput(value: unknown): Prisma.InputJsonValue | typeof Prisma.JsonNull {
  if (value === undefined) throw new TypeError('undefined is not a JSON value');
  return value === null ? Prisma.JsonNull : (value as Prisma.InputJsonValue);
}

/** Structural equality of JSON values, independent of object key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as JsonObject)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
