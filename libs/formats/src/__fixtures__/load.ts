import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientFormat } from '@cpa/contracts';
import type { CanonicalResponse } from '../canonical';

export function fixture(format: ClientFormat, name: string): string {
  return readFileSync(join(__dirname, format, name), 'utf8');
}

export function json(format: ClientFormat, name: string): any {
  return JSON.parse(fixture(format, name));
}

export const MAIN_FORMATS = [
  'openai-chat',
  'openai-responses',
  'claude',
  'gemini',
] as const satisfies readonly ClientFormat[];

/** Formats that can show reasoning text / tool calls to a client. */
export const showsReasoning = (f: ClientFormat) => f !== 'openai-completions';
export const hasTools = (f: ClientFormat) => f !== 'openai-completions';

/** The meaning of a response, independent of wire details (ids, timestamps, framing). */
export function meaning(
  res: CanonicalResponse,
  opts: { reasoning?: boolean; tools?: boolean; reasoningTokens?: boolean; cached?: boolean } = {},
) {
  const text = res.content
    .filter((p) => p.type === 'text')
    .map((p) => (p as { text: string }).text)
    .join('');
  const out: Record<string, unknown> = {
    text,
    stop: res.stopReason,
    input: res.usage?.inputTokens,
    output: res.usage?.outputTokens,
  };
  if (opts.tools !== false) {
    out.tools = res.content
      .filter((p) => p.type === 'tool_call')
      .map((p) => (p.type === 'tool_call' ? { name: p.name, args: JSON.parse(p.arguments || '{}') } : null));
  } else if (out.stop === 'tool_use') out.stop = 'end_turn';
  if (opts.reasoning !== false)
    out.reasoning = res.content
      .filter((p) => p.type === 'reasoning')
      .map((p) => (p as { text: string }).text)
      .join('');
  if (opts.cached) out.cached = res.usage?.cachedTokens ?? 0;
  if (opts.reasoningTokens) out.reasoningTokens = res.usage?.reasoningTokens ?? 0;
  return out;
}
