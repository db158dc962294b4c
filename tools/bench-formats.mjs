#!/usr/bin/env node
/**
 * Benchmark of format translation alone (no I/O): microseconds per streamed event and per
 * request / response body, for a few client <- upstream directions, plus the usage tap a
 * same-format stream pays. Uses the built library (`npm run build` first).
 *
 *   node tools/bench-formats.mjs            # BENCH_ITERATIONS=2000 by default
 *
 * Not part of the tests: figures depend on the machine.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const formats = require(resolve(ROOT, 'libs/formats/dist/index.js'));
const { codecFor, createStreamTranslator, createStreamUsageTap, createStreamAggregator } = formats;

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const DELTAS = 200;

/** An upstream stream of `DELTAS` text deltas (plus a tool call), as that format's wire events. */
function upstreamEvents(format) {
  const encoder = codecFor(format).createStreamEncoder({ model: 'bench-model' });
  const out = [
    encoder.write({
      type: 'start',
      id: 'resp_bench',
      model: 'bench-model',
      created: 1_700_000_000,
      usage: { inputTokens: 1200, outputTokens: 0 },
    }),
  ];
  for (let i = 0; i < DELTAS; i++) out.push(encoder.write({ type: 'text', text: `word${i} ` }));
  out.push(encoder.write({ type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', arguments: '{"city":' }));
  out.push(encoder.write({ type: 'tool_call', index: 0, arguments: '"Paris"}' }));
  out.push(encoder.write({ type: 'usage', usage: { inputTokens: 1200, outputTokens: DELTAS + 8, cachedTokens: 100 } }));
  out.push(encoder.write({ type: 'finish', reason: 'tool_use' }));
  out.push(encoder.write({ type: 'done' }));
  out.push(encoder.end());
  return out.filter((chunk) => chunk.length > 0).map((chunk) => Buffer.from(chunk));
}

/** A realistic multi-turn request with a system prompt, tools, a tool call and its result. */
function canonicalRequest() {
  const history = [];
  for (let i = 0; i < 6; i++) {
    history.push({
      role: 'user',
      content: [{ type: 'text', text: `Question ${i}: ${'lorem ipsum dolor sit amet '.repeat(20)}` }],
    });
    history.push({
      role: 'assistant',
      content: [{ type: 'text', text: `Answer ${i}: ${'consectetur adipiscing elit '.repeat(20)}` }],
    });
  }
  history.push({ role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris?' }] });
  history.push({
    role: 'assistant',
    content: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
  });
  history.push({
    role: 'user',
    content: [
      { type: 'tool_result', callId: 'call_1', name: 'get_weather', content: [{ type: 'text', text: 'sunny, 21C' }] },
    ],
  });
  return {
    model: 'bench-model',
    stream: true,
    system: [{ type: 'text', text: 'You are a helpful assistant. '.repeat(10) }],
    messages: history,
    tools: Array.from({ length: 5 }, (_, i) => ({
      name: `tool_${i}`,
      description: 'Does something useful with its arguments',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
        required: ['city'],
        additionalProperties: false,
      },
    })),
    maxTokens: 1024,
    temperature: 0.7,
  };
}

function time(fn, iterations) {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e3 / iterations; // microseconds per call
}

const fmt = (us) => us.toFixed(2).padStart(9);

// client <- upstream
const DIRECTIONS = [
  ['openai-chat', 'claude'],
  ['claude', 'openai-chat'],
  ['claude', 'openai-responses'],
  ['openai-responses', 'gemini'],
  ['gemini', 'claude'],
  ['openai-chat', 'gemini'],
];

console.log(`Translation cost (µs), ${ITERATIONS} iterations, streams of ${DELTAS} text deltas + 1 tool call\n`);
console.log(
  `${'client <- upstream'.padEnd(36)} ${'per chunk'.padStart(9)} ${'req body'.padStart(9)} ${'res body'.padStart(9)}`,
);

const request = canonicalRequest();
for (const [client, upstream] of DIRECTIONS) {
  const events = upstreamEvents(upstream);
  const streamIterations = Math.max(20, Math.floor(ITERATIONS / 20));
  const perStream = time(() => {
    const t = createStreamTranslator(upstream, client, { model: 'client-model' });
    for (const chunk of events) t.push(chunk);
    t.end();
  }, streamIterations);

  // Request: the client's body is parsed, decoded to canonical and encoded for the upstream.
  const clientBody = JSON.stringify(codecFor(client).encodeRequest(request, { model: 'client-model', stream: true }));
  const perRequest = time(() => {
    const canonical = codecFor(client).decodeRequest(JSON.parse(clientBody), { model: 'client-model', stream: true });
    JSON.stringify(codecFor(upstream).encodeRequest(canonical, { model: 'upstream-model', stream: true }));
  }, ITERATIONS);

  // Response: the upstream's whole body, decoded and re-encoded for the client.
  const agg = createStreamAggregator(upstream);
  for (const chunk of events) agg.push(chunk);
  const upstreamBody = JSON.stringify(codecFor(upstream).encodeResponse(agg.end(), { model: 'upstream-model' }));
  const perResponse = time(() => {
    const canonical = codecFor(upstream).decodeResponse(JSON.parse(upstreamBody));
    JSON.stringify(codecFor(client).encodeResponse(canonical, { model: 'client-model' }));
  }, ITERATIONS);

  console.log(
    `${`${client} <- ${upstream}`.padEnd(36)} ${fmt(perStream / events.length)} ${fmt(perRequest)} ${fmt(perResponse)}   (${Buffer.byteLength(clientBody)} B request)`,
  );
}

console.log('\nSame format (bytes pass through; usage read on the side)\n');
for (const format of ['claude', 'openai-chat', 'openai-responses', 'gemini']) {
  const events = upstreamEvents(format);
  const perStream = time(
    () => {
      const tap = createStreamUsageTap(format);
      for (const chunk of events) tap.push(chunk);
      tap.end();
    },
    Math.max(20, Math.floor(ITERATIONS / 20)),
  );
  console.log(`${`usage tap ${format}`.padEnd(36)} ${fmt(perStream / events.length)} µs per chunk`);
}
