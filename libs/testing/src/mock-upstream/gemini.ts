import type { ReplyPlan } from './conversation';
import { splitText } from './conversation';
import type { GoogleReply } from './google-http';
import type { EncodeContext } from './sse';

type Part = Record<string, unknown>;

function usageMetadata(plan: ReplyPlan) {
  return {
    promptTokenCount: plan.inputTokens,
    candidatesTokenCount: plan.outputTokens,
    totalTokenCount: plan.inputTokens + plan.outputTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: plan.inputTokens }],
  };
}

function chunkObject(ctx: EncodeContext, parts: Part[], finishReason: string | undefined, plan: ReplyPlan | undefined) {
  const candidate: Record<string, unknown> = { content: { parts, role: 'model' }, index: 0 };
  if (finishReason) candidate.finishReason = finishReason;
  const out: Record<string, unknown> = { candidates: [candidate] };
  if (plan) out.usageMetadata = usageMetadata(plan);
  out.modelVersion = ctx.model;
  out.responseId = ctx.id;
  return out;
}

function thoughtPart(plan: ReplyPlan): Part {
  return { text: plan.thinking, thought: true };
}

const callParts = (plan: ReplyPlan): Part[] =>
  plan.toolCalls.map((call, i) => ({ functionCall: { id: `call_mock_${i}`, name: call.name, args: call.args } }));

export function generateContent(ctx: EncodeContext, plan: ReplyPlan): unknown {
  const parts: Part[] = [];
  if (plan.thinking !== '') parts.push(thoughtPart(plan));
  if (plan.text !== '' || plan.toolCalls.length === 0) parts.push({ text: plan.text });
  parts.push(...callParts(plan));
  return chunkObject(ctx, parts, 'STOP', plan);
}

/** The stream's response objects in order; the last one carries finishReason and usage. */
export function generateContentChunks(ctx: EncodeContext, plan: ReplyPlan): unknown[] {
  const chunks: unknown[] = [];
  if (plan.thinking !== '') chunks.push(chunkObject(ctx, [thoughtPart(plan)], undefined, undefined));
  const pieces = splitText(plan.text, ctx.streamChunks);
  const tail = callParts(plan);
  pieces.forEach((text, i) => {
    const last = i === pieces.length - 1 && tail.length === 0;
    chunks.push(chunkObject(ctx, [{ text }], last ? 'STOP' : undefined, last ? plan : undefined));
  });
  // Gemini sends function calls whole, never as argument fragments.
  if (tail.length > 0 || pieces.length === 0)
    chunks.push(chunkObject(ctx, tail.length > 0 ? tail : [{ text: '' }], 'STOP', plan));
  return chunks;
}

/** Without alt=sse Gemini streams one JSON array, element by element. */
export function jsonArrayFrames(chunks: unknown[]): string[] {
  return chunks
    .map((c, i) => (i === 0 ? '[' : '\r\n,') + JSON.stringify(c))
    .concat(chunks.length === 0 ? ['[]'] : [']']);
}

/** A streamed generateContent answer of a Google server: SSE with alt=sse, else one JSON array. */
export function streamedReply(chunks: unknown[], sse: boolean): GoogleReply {
  if (sse)
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      chunks: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`),
    };
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    chunks: jsonArrayFrames(chunks),
  };
}

export function geminiModelList(models: string[]): unknown {
  return {
    models: models.map((id) => ({
      name: `models/${id}`,
      version: '001',
      displayName: id,
      description: `Mock ${id}`,
      inputTokenLimit: 1048576,
      outputTokenLimit: 65536,
      supportedGenerationMethods: ['generateContent', 'countTokens', 'streamGenerateContent'],
    })),
  };
}
