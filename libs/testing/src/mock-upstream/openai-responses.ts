import type { ReplyPlan } from './conversation';
import { splitText } from './conversation';
import { splitJson } from './openai-chat';
import { eventFrame, type EncodeContext } from './sse';

type Item = Record<string, unknown>;

function outputItems(ctx: EncodeContext, plan: ReplyPlan): Item[] {
  const items: Item[] = [];
  if (plan.text !== '' || plan.toolCalls.length === 0) {
    items.push({
      id: `msg_${ctx.id}`,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: plan.text, annotations: [], logprobs: [] }],
    });
  }
  plan.toolCalls.forEach((call, i) => {
    items.push({
      id: `fc_${ctx.id}_${i}`,
      type: 'function_call',
      status: 'completed',
      call_id: `call_mock_${i}`,
      name: call.name,
      arguments: JSON.stringify(call.args),
    });
  });
  return items;
}

function responseObject(
  ctx: EncodeContext,
  body: Record<string, unknown>,
  status: string,
  output: Item[],
  plan?: ReplyPlan,
) {
  return {
    id: `resp_${ctx.id}`,
    object: 'response',
    created_at: ctx.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: ctx.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: plan
      ? {
          input_tokens: plan.inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: plan.outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: plan.inputTokens + plan.outputTokens,
        }
      : null,
    user: null,
    metadata: body.metadata ?? {},
  };
}

export function response(ctx: EncodeContext, body: Record<string, unknown>, plan: ReplyPlan): unknown {
  return responseObject(ctx, body, 'completed', outputItems(ctx, plan), plan);
}

export function responseFrames(ctx: EncodeContext, body: Record<string, unknown>, plan: ReplyPlan): string[] {
  let seq = 0;
  const frames: string[] = [];
  const emit = (type: string, data: Record<string, unknown>) =>
    frames.push(eventFrame(type, { type, sequence_number: seq++, ...data }));
  emit('response.created', { response: responseObject(ctx, body, 'in_progress', []) });
  emit('response.in_progress', { response: responseObject(ctx, body, 'in_progress', []) });
  const items = outputItems(ctx, plan);
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === 'message') {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      const emptyPart = { type: 'output_text', text: '', annotations: [], logprobs: [] };
      emit('response.content_part.added', { item_id, output_index, content_index: 0, part: emptyPart });
      for (const delta of splitText(plan.text, ctx.streamChunks)) {
        emit('response.output_text.delta', { item_id, output_index, content_index: 0, delta, logprobs: [] });
      }
      emit('response.output_text.done', { item_id, output_index, content_index: 0, text: plan.text, logprobs: [] });
      emit('response.content_part.done', {
        item_id,
        output_index,
        content_index: 0,
        part: { ...emptyPart, text: plan.text },
      });
    } else {
      const args = String(item.arguments);
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const delta of splitJson(args, ctx.streamChunks)) {
        emit('response.function_call_arguments.delta', { item_id, output_index, delta });
      }
      emit('response.function_call_arguments.done', { item_id, output_index, name: item.name, arguments: args });
    }
    emit('response.output_item.done', { output_index, item });
  });
  emit('response.completed', { response: responseObject(ctx, body, 'completed', items, plan) });
  return frames;
}
