import { describe, expect, it } from 'vitest';
import { asArray, asObject, jsonEqual } from './json';

describe('json helpers', () => {
  it('compares JSON structurally regardless of key order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual('1', 1)).toBe(false);
  });

  it('reads JSON columns defensively', () => {
    expect(asObject({ a: 1 })).toEqual({ a: 1 });
    expect(asObject([1])).toEqual({});
    expect(asObject(null)).toEqual({});
    expect(asArray([1])).toEqual([1]);
    expect(asArray({})).toEqual([]);
  });
});
