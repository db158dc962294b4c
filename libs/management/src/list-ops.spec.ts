import { ProviderKeyEntrySchema, type ProviderKeyEntry } from '@cpa/config';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ManagementError } from './management-error';
import {
  deleteFromEntryList,
  deleteFromStringList,
  parsePutBody,
  patchEntryList,
  patchStringList,
  type EntryListSpec,
} from './list-ops';

function failure(fn: () => unknown): ManagementError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ManagementError) return err;
    throw err;
  }
  throw new Error('expected a ManagementError');
}

describe('parsePutBody', () => {
  const item = z.string().min(1);
  it('takes a raw array or {"items": [...]}', () => {
    expect(parsePutBody(['a', 'b'], item, 'api-keys')).toEqual(['a', 'b']);
    expect(parsePutBody({ items: ['c'] }, item, 'api-keys')).toEqual(['c']);
    expect(parsePutBody([], item, 'api-keys')).toEqual([]);
  });

  it('rejects other shapes and empty items as CLIProxyAPI does', () => {
    expect(failure(() => parsePutBody({ items: [] }, item, 'api-keys'))).toMatchObject({
      status: 400,
      message: 'invalid body',
    });
    expect(failure(() => parsePutBody('a', item, 'api-keys'))).toMatchObject({ status: 400, message: 'invalid body' });
    expect(failure(() => parsePutBody({ value: ['a'] }, item, 'api-keys'))).toMatchObject({ status: 400 });
  });

  it('names the invalid item', () => {
    const err = failure(() =>
      parsePutBody([{ 'api-key': 'k' }, { 'base-url': 'x' }], ProviderKeyEntrySchema, 'claude-api-key'),
    );
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^claude-api-key\[1\]\.api-key: /);
  });
});

describe('patchStringList', () => {
  it('replaces by index', () => {
    expect(patchStringList(['a', 'b'], { index: 1, value: 'c' })).toEqual(['a', 'c']);
  });
  it('replaces by old value, or appends the new value when old is absent', () => {
    expect(patchStringList(['a', 'b'], { old: 'a', new: 'z' })).toEqual(['z', 'b']);
    expect(patchStringList(['a'], { old: 'q', new: 'z' })).toEqual(['a', 'z']);
  });
  it('rejects an out-of-range index and bodies without either form', () => {
    expect(failure(() => patchStringList(['a'], { index: 3, value: 'x' })).status).toBe(404);
    expect(failure(() => patchStringList(['a'], { value: 'x' }))).toMatchObject({
      status: 400,
      message: 'missing fields',
    });
  });
  it('does not modify its input', () => {
    const list = ['a'];
    patchStringList(list, { index: 0, value: 'b' });
    expect(list).toEqual(['a']);
  });
});

describe('deleteFromStringList', () => {
  it('deletes by index or by value', () => {
    expect(deleteFromStringList(['a', 'b', 'c'], { index: '1' })).toEqual(['a', 'c']);
    expect(deleteFromStringList(['a', 'b', 'a'], { value: 'a' })).toEqual(['b']);
  });
  it('needs an index or a value', () => {
    expect(failure(() => deleteFromStringList(['a'], {}))).toMatchObject({
      status: 400,
      message: 'missing index or value',
    });
    expect(failure(() => deleteFromStringList(['a'], { index: '7' })).status).toBe(400);
  });
});

describe('object lists', () => {
  const spec: EntryListSpec<ProviderKeyEntry> = {
    section: 'claude-api-key',
    schema: ProviderKeyEntrySchema,
    keyOf: (e) => e['api-key'],
    keyParam: 'api-key',
  };
  const list: ProviderKeyEntry[] = [
    { 'api-key': 'k1', prefix: 'a', weight: 2 },
    { 'api-key': 'k2', 'base-url': 'https://x' },
  ];

  it('PATCH {"index","value"} merges the value into the entry', () => {
    expect(patchEntryList(list, { index: 0, value: { prefix: 'b' } }, spec)[0]).toEqual({
      'api-key': 'k1',
      prefix: 'b',
      weight: 2,
    });
  });

  it('PATCH {"index","value"} with a whole entry (it names the api-key) replaces the entry', () => {
    const next = patchEntryList(list, { index: 1, value: { 'api-key': 'k9', priority: 3 } }, spec);
    expect(next[1]).toEqual({ 'api-key': 'k9', priority: 3 });
    expect(patchEntryList(list, { index: 0, value: { 'api-key': 'k1' } }, spec)[0]).toEqual({ 'api-key': 'k1' });
  });

  it('PATCH {"match","value"} addresses the entry by api-key', () => {
    expect(patchEntryList(list, { match: 'k2', value: { weight: 7 } }, spec)[1]).toMatchObject({
      'api-key': 'k2',
      weight: 7,
    });
  });

  it('PATCH {"old","new"} replaces the entry whose api-key is old', () => {
    expect(patchEntryList(list, { old: 'k1', new: { 'api-key': 'k3' } }, spec)).toEqual([{ 'api-key': 'k3' }, list[1]]);
    expect(patchEntryList(list, { old: { 'api-key': 'k2' }, new: { 'api-key': 'k4' } }, spec)[1]).toEqual({
      'api-key': 'k4',
    });
  });

  it('PATCH answers 404 for an unknown entry and 400 for an invalid result', () => {
    expect(failure(() => patchEntryList(list, { match: 'nope', value: { weight: 1 } }, spec)).status).toBe(404);
    expect(failure(() => patchEntryList(list, { old: 'nope', new: { 'api-key': 'x' } }, spec)).status).toBe(404);
    expect(failure(() => patchEntryList(list, { index: 0, value: { weight: -1 } }, spec)).status).toBe(400);
    expect(failure(() => patchEntryList(list, { index: 0 }, spec)).status).toBe(400);
  });

  it('PATCH by match refuses an ambiguous key', () => {
    const twice = [list[0], { ...list[0], 'base-url': 'https://other' }];
    expect(failure(() => patchEntryList(twice, { match: 'k1', value: { weight: 1 } }, spec))).toMatchObject({
      status: 400,
    });
  });

  it('DELETE by ?api-key=, ?value= or ?index=', () => {
    expect(deleteFromEntryList(list, { 'api-key': 'k1' }, spec)).toEqual([list[1]]);
    expect(deleteFromEntryList(list, { value: 'k2' }, spec)).toEqual([list[0]]);
    expect(deleteFromEntryList(list, { index: '0' }, spec)).toEqual([list[1]]);
    expect(failure(() => deleteFromEntryList(list, { value: 'zz' }, spec)).status).toBe(404);
    expect(failure(() => deleteFromEntryList(list, {}, spec))).toMatchObject({
      status: 400,
      message: 'missing api-key or index',
    });
  });
});
