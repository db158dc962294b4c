import { describe, expect, it } from 'vitest';
import { compact, jsonEqual, planReconcile } from './reconcile';

describe('planReconcile', () => {
  const existing = [
    { id: 'a', v: 1, source: 'config' },
    { id: 'b', v: 1, source: 'config' },
    { id: 'c', v: 1, source: 'management' },
  ];
  const same = (e: { v: number }, d: { v: number }) => e.v === d.v;

  it('creates missing rows, updates different ones and leaves equal ones alone', () => {
    const plan = planReconcile(
      existing,
      [
        { id: 'a', v: 1 },
        { id: 'b', v: 2 },
        { id: 'd', v: 1 },
      ],
      same,
      () => true,
    );
    expect(plan.create.map((r) => r.id)).toEqual(['d']);
    expect(plan.update.map((u) => u.desired.id)).toEqual(['b']);
    expect(plan.unchanged).toBe(1);
    expect(plan.remove.map((r) => r.id)).toEqual(['c']);
  });

  it('prunes only rows the predicate allows', () => {
    const plan = planReconcile(existing, [], same, (e) => e.source === 'config');
    expect(plan.remove.map((r) => r.id)).toEqual(['a', 'b']);
  });
});

describe('jsonEqual', () => {
  it('ignores key order and undefined properties', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1, e: undefined })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe('compact', () => {
  it('drops undefined properties only', () => {
    expect(compact({ a: undefined, b: 0, c: false, d: '' })).toEqual({ b: 0, c: false, d: '' });
  });
});
