import type { ReplyPlan } from './conversation';
import { splitText } from './conversation';
import { DONE_FRAME, dataFrame, type EncodeContext } from './sse';

const callId = (i: number) => `call_mock_${i}`;

function usage(plan: ReplyPlan) {
  return {
    prompt_tokens: plan.inputTokens,
    completion_tokens: plan.outputTokens,
    total_tokens: plan.inputTokens + plan.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const finishReason = (plan: ReplyPlan) => (plan.toolCalls.length > 0 ? 'tool_calls' : 'stop');

export function chatCompletion(ctx: EncodeContext, plan: ReplyPlan): unknown {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: plan.toolCalls.length > 0 && plan.text === '' ? null : plan.text,
    refusal: null,
    annotations: [],
  };
  if (plan.toolCalls.length > 0) {
    message.tool_calls = plan.toolCalls.map((call, i) => ({
      id: callId(i),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.args) },
    }));
  }
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(plan) }],
    usage: usage(plan),
    service_tier: 'default',
    system_fingerprint: null,
  };
}

export function chatCompletionFrames(ctx: EncodeContext, plan: ReplyPlan, includeUsage: boolean): string[] {
  const head = {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.model,
    service_tier: 'default',
    system_fingerprint: null,
  };
  // With include_usage every chunk carries `usage: null` until the final usage-only chunk.
  const chunk = (delta: unknown, finish: string | null = null) =>
    dataFrame({
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const frames = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of splitText(plan.text, ctx.streamChunks)) frames.push(chunk({ content: piece }));
  plan.toolCalls.forEach((call, index) => {
    frames.push(
      chunk({
        tool_calls: [{ index, id: callId(index), type: 'function', function: { name: call.name, arguments: '' } }],
      }),
    );
    for (const piece of splitJson(JSON.stringify(call.args), ctx.streamChunks)) {
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  frames.push(chunk({}, finishReason(plan)));
  if (includeUsage) frames.push(dataFrame({ ...head, choices: [], usage: usage(plan) }));
  frames.push(DONE_FRAME);
  return frames;
}

/** Splits a JSON string into `n` raw slices, as upstreams stream tool arguments. */
export function splitJson(json: string, n: number): string[] {
  const pieces = Math.max(1, Math.min(n, json.length));
  const size = Math.ceil(json.length / pieces);
  const out: string[] = [];
  for (let i = 0; i < json.length; i += size) out.push(json.slice(i, i + size));
  return out;
}

export function textCompletion(ctx: EncodeContext, plan: ReplyPlan): unknown {
  return {
    id: ctx.id,
    object: 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: [{ text: plan.text, index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: plan.inputTokens,
      completion_tokens: plan.outputTokens,
      total_tokens: plan.inputTokens + plan.outputTokens,
    },
  };
}

export function textCompletionFrames(ctx: EncodeContext, plan: ReplyPlan, includeUsage: boolean): string[] {
  const head = { id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model };
  const frames = splitText(plan.text, ctx.streamChunks).map((text) =>
    dataFrame({ ...head, choices: [{ text, index: 0, logprobs: null, finish_reason: null }] }),
  );
  frames.push(dataFrame({ ...head, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] }));
  if (includeUsage) {
    const u = {
      prompt_tokens: plan.inputTokens,
      completion_tokens: plan.outputTokens,
      total_tokens: plan.inputTokens + plan.outputTokens,
    };
    frames.push(dataFrame({ ...head, choices: [], usage: u }));
  }
  frames.push(DONE_FRAME);
  return frames;
}

export function openAIModelList(models: string[], created: number): unknown {
  return { object: 'list', data: models.map((id) => ({ id, object: 'model', created, owned_by: 'mock' })) };
}
