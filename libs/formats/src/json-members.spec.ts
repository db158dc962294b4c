import { describe, expect, it } from 'vitest';
import {
  JsonScanError,
  layoutOf,
  ROUTED_MEMBERS,
  scanFromLayout,
  readJsonBoolean,
  readJsonString,
  replaceTopLevelMembers,
  scanTopLevelMembers,
} from './json-members';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const valueOf = (text: string, name: string) => {
  const body = bytes(text);
  const span = scanTopLevelMembers(body, [name]).spans.get(name);
  return span && body.toString('utf8', span.start, span.end);
};

/** A body shaped like a coding agent's turn: escapes, nested objects, non-ASCII, long strings. */
function agentBody(model: string): string {
  const file = Array.from(
    { length: 200 },
    (_, i) => `  const s${i} = "quote \\"${i}\\" and a backslash \\\\ — ü";\n`,
  ).join('');
  return JSON.stringify({
    model,
    max_tokens: 32000,
    system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'fix it' }] },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_1',
            name: 'Read',
            input: { model: 'nested, not top-level', file_path: '/a.ts' },
          },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: file }] },
    ],
    tools: [{ name: 'Read', input_schema: { type: 'object', properties: { stream: { type: 'boolean' } } } }],
    stream: true,
  });
}

describe('scanTopLevelMembers', () => {
  it('finds top-level members only, whatever nested objects and strings contain', () => {
    const text = agentBody('claude-bench');
    const body = bytes(text);
    const scan = scanTopLevelMembers(body, ['model', 'stream', 'absent']);
    expect(scan.isObject).toBe(true);
    expect(scan.repeated).toBe(false);
    expect(scan.members).toBe(Object.keys(JSON.parse(text)).length);
    expect(readJsonString(body, scan.spans.get('model')!)).toBe('claude-bench');
    expect(readJsonBoolean(body, scan.spans.get('stream')!)).toBe(true);
    expect(scan.spans.has('absent')).toBe(false);
    expect(body[scan.close]).toBe(0x7d);
    expect(scan.close).toBe(body.length - 1);
  });

  it('gives the exact JSON text of values of every kind, around any whitespace', () => {
    const text =
      ' \n{ "a" : [1, {"b": "}"}] ,\t"s":"x\\"y\\\\" , "n": -1.5e+3, "t": true, "f": false, "z": null, "o": {} , "e": []}\r\n';
    expect(['a', 's', 'n', 't', 'f', 'z', 'o', 'e'].map((name) => valueOf(text, name))).toEqual([
      '[1, {"b": "}"}]',
      '"x\\"y\\\\"',
      '-1.5e+3',
      'true',
      'false',
      'null',
      '{}',
      '[]',
    ]);
  });

  it('reads long strings with escaped quotes and backslash runs right', () => {
    const long = `${'x'.repeat(100)}\\"${'y'.repeat(100)}\\\\\\"end\\\\`;
    const text = `{"a":"${long}","model":"m"}`;
    expect(valueOf(text, 'a')).toBe(`"${long}"`);
    expect(readJsonString(bytes(text), scanTopLevelMembers(bytes(text), ['a']).spans.get('a')!)).toBe(
      JSON.parse(text).a,
    );
    expect(valueOf(text, 'model')).toBe('"m"');
  });

  it('recognises a member name written with escapes, and reports a repeated one (JSON.parse keeps the last)', () => {
    expect(valueOf('{"mod\\u0065l":"x"}', 'model')).toBe('"x"');
    const scan = scanTopLevelMembers(bytes('{"model":"a","x":1,"model":"b"}'), ['model']);
    expect(scan.repeated).toBe(true);
    expect(readJsonString(bytes('{"model":"a","x":1,"model":"b"}'), scan.spans.get('model')!)).toBe('b');
  });

  it('says when the document is JSON but not an object', () => {
    for (const text of ['[1,2]', '"s"', '12', 'null', 'true', '[]'])
      expect(scanTopLevelMembers(bytes(text), ['model']).isObject).toBe(false);
  });

  it('refuses what JSON.parse refuses for its structure', () => {
    const broken = [
      '',
      '{',
      '{"model": ',
      '{"model": "m",,,}',
      '{"model": "m"} trailing garbage',
      '{"a":1,}',
      '[1,]',
      '{"a" 1}',
      '{a:1}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":-}',
      '{"a":1e}',
      '{"a":tru}',
      '{"a":"unterminated}',
      '{"a":[1}',
      '{"a":{"b":1]}',
      "{'a':1}",
      '\ufeff{}',
      '{"a":1}}',
      `{"model":"m","messages":${'['.repeat(100_000)}1${']'.repeat(99_999)}}`,
    ];
    for (const text of broken) {
      expect(() => JSON.parse(text), text.slice(0, 40)).toThrow();
      expect(() => scanTopLevelMembers(bytes(text), ['model']), text.slice(0, 40)).toThrow(JsonScanError);
    }
    // Bytes that are not UTF-8 text outside a string are refused too.
    expect(() =>
      scanTopLevelMembers(Buffer.concat([bytes('{"model":"m"'), Buffer.from([0xc3, 0x28, 0xff]), bytes('}')]), [
        'model',
      ]),
    ).toThrow(JsonScanError);
  });

  it('takes 100,000 levels of nesting without recursion', () => {
    const text = `{"model":"m","messages":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    expect(valueOf(text, 'model')).toBe('"m"');
  });

  it('agrees with JSON.parse on the top-level values of generated documents', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3)
        return ['s "q" \\ \n ü', 42, -0.5, true, null, '', 'x'.repeat(Math.floor(random() * 200))][
          Math.floor(random() * 7)
        ];
      if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
          `k${i}${random() < 0.2 ? '"' : ''}`,
          value(depth + 1),
        ]),
      );
    };
    for (let i = 0; i < 200; i++) {
      const doc = { model: `m${i}`, a: value(0), stream: random() < 0.5, b: value(0) };
      const text = JSON.stringify(doc, null, random() < 0.3 ? 2 : undefined);
      const body = bytes(text);
      const scan = scanTopLevelMembers(body, ['model', 'a', 'stream', 'b']);
      for (const name of ['model', 'a', 'stream', 'b'] as const) {
        const span = scan.spans.get(name)!;
        expect(JSON.parse(body.toString('utf8', span.start, span.end))).toEqual(doc[name]);
      }
    }
  });
});

describe('readJsonString / readJsonBoolean', () => {
  it('decode a string or boolean span and answer undefined for other kinds', () => {
    const body = bytes('{"s":"a\\u00e9\\n","n":1,"t":true,"f":false,"z":null}');
    const scan = scanTopLevelMembers(body, ['s', 'n', 't', 'f', 'z']);
    expect(readJsonString(body, scan.spans.get('s')!)).toBe('aé\n');
    expect(readJsonString(body, scan.spans.get('n')!)).toBeUndefined();
    expect(readJsonBoolean(body, scan.spans.get('t')!)).toBe(true);
    expect(readJsonBoolean(body, scan.spans.get('f')!)).toBe(false);
    expect(readJsonBoolean(body, scan.spans.get('z')!)).toBeUndefined();
    expect(readJsonBoolean(body, scan.spans.get('s')!)).toBeUndefined();
  });

  it('refuses a string value with an invalid escape', () => {
    const body = bytes('{"model":"a\\x"}');
    expect(() => readJsonString(body, scanTopLevelMembers(body, ['model']).spans.get('model')!)).toThrow(JsonScanError);
  });
});

describe('replaceTopLevelMembers', () => {
  it('changes only the bytes of the replaced value, and copies none of the rest', () => {
    const before = bytes(agentBody('claude-bench'));
    const parts = replaceTopLevelMembers(
      before,
      scanTopLevelMembers(before, ['model']),
      new Map([['model', '"claude-sonnet-4-6"']]),
    );
    // Before the value, the value, after it: the two stretches are views of the client's bytes.
    expect(parts).toHaveLength(3);
    expect(parts[0]!.buffer).toBe(before.buffer);
    expect(parts[2]!.buffer).toBe(before.buffer);
    expect(parts[1]!.toString()).toBe('"claude-sonnet-4-6"');
    const after = Buffer.concat(parts);
    const expected = bytes(agentBody('claude-sonnet-4-6'));
    expect(after.equals(expected)).toBe(true);
    // Everything before and after the value is the client's bytes.
    const at = before.indexOf('"claude-bench"');
    expect(after.subarray(0, at).equals(before.subarray(0, at))).toBe(true);
    expect(
      after.subarray(at + '"claude-sonnet-4-6"'.length).equals(before.subarray(at + '"claude-bench"'.length)),
    ).toBe(true);
  });

  it('adds members that are missing at the end of the object, also of an empty one', () => {
    const body = bytes('{"model":"a", "messages":[] }');
    const out = replaceTopLevelMembers(
      body,
      scanTopLevelMembers(body, ['model', 'stream']),
      new Map([
        ['model', '"b"'],
        ['stream', 'true'],
      ]),
    );
    expect(Buffer.concat(out).toString()).toBe('{"model":"b", "messages":[] ,"stream":true}');
    const empty = bytes('{ }');
    expect(
      Buffer.concat(
        replaceTopLevelMembers(empty, scanTopLevelMembers(empty, ['stream']), new Map([['stream', 'false']])),
      ).toString(),
    ).toBe('{ "stream":false}');
  });

  it('will not splice a body with a repeated member or one that is no object', () => {
    const repeated = bytes('{"model":"a","model":"b"}');
    expect(() =>
      replaceTopLevelMembers(repeated, scanTopLevelMembers(repeated, ['model']), new Map([['model', '"c"']])),
    ).toThrow(JsonScanError);
    const array = bytes('[1]');
    expect(() =>
      replaceTopLevelMembers(array, scanTopLevelMembers(array, ['model']), new Map([['model', '"c"']])),
    ).toThrow(JsonScanError);
  });
});

describe("layoutOf / scanFromLayout (the gateway's scan reused by the executor)", () => {
  const through = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

  it('gives back the same scan after travelling as JSON, for bodies of every shape', () => {
    for (const text of [
      agentBody('claude-sonnet'),
      '{"model":"m","stream":false,"stream_options":{"include_usage":true}}',
      '  {\n "stream" :  true ,\t"model"\n:\n"é"}  ',
      '{"messages":[]}',
      '{}',
    ]) {
      const body = bytes(text);
      const scan = scanTopLevelMembers(body, ROUTED_MEMBERS);
      const layout = through(layoutOf(body, scan, ROUTED_MEMBERS));
      expect(scanFromLayout(body, layout, ROUTED_MEMBERS)).toEqual(scan);
      // A subset of the names scanned is enough.
      expect(scanFromLayout(body, layout, ['model'])?.spans.get('model')).toEqual(scan.spans.get('model'));
    }
  });

  it('describes only objects without repeated members', () => {
    const names = ['model'];
    expect(layoutOf(bytes('[1]'), scanTopLevelMembers(bytes('[1]'), names), names)).toBeUndefined();
    const twice = bytes('{"model":"a","model":"b"}');
    expect(layoutOf(twice, scanTopLevelMembers(twice, names), names)).toBeUndefined();
  });

  it('is refused for any other body, so a stale layout never splices the wrong bytes', () => {
    const body = bytes('{"model":"gpt-5","stream":true,"x":[1,2]}');
    const layout = layoutOf(body, scanTopLevelMembers(body, ROUTED_MEMBERS), ROUTED_MEMBERS)!;
    expect(scanFromLayout(body, undefined, ROUTED_MEMBERS)).toBeUndefined();
    // Same length, members elsewhere.
    expect(scanFromLayout(bytes('{"x":[1,2],"stream":true,"model":"gpt-5"}'), layout, ROUTED_MEMBERS)).toBeUndefined();
    // Same length and brace, another member where the model was.
    expect(scanFromLayout(bytes('{"mode1":"gpt-5","stream":true,"x":[1,2]}'), layout, ROUTED_MEMBERS)).toBeUndefined();
    expect(scanFromLayout(bytes(`${body.toString()} `), layout, ROUTED_MEMBERS)).toBeUndefined();
    // Names the gateway did not look for: the layout cannot say whether they are there.
    expect(scanFromLayout(body, { ...layout, names: ['model'] }, ['model', 'stream'])).toBeUndefined();
    // Spans outside the object, or not at a value.
    expect(scanFromLayout(body, { ...layout, spans: { model: [9, 99] } }, ['model'])).toBeUndefined();
    expect(scanFromLayout(body, { ...layout, spans: { model: [8, 16] } }, ['model'])).toBeUndefined();
    expect(scanFromLayout(body, { ...layout, close: 5 }, ['model'])).toBeUndefined();
  });
});
