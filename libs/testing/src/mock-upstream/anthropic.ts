import type { ReplyPlan } from './conversation';
import { splitText } from './conversation';
import { splitJson } from './openai-chat';
import { eventFrame, type EncodeContext } from './sse';

type Block = Record<string, unknown>;

const toolUseId = (i: number) => `toolu_mock_${i}`;
const signatureOf = (thinking: string) => `sig-mock-${thinking.length}`;

function blocks(plan: ReplyPlan): Block[] {
  const out: Block[] = [];
  if (plan.thinking !== '')
    out.push({ type: 'thinking', thinking: plan.thinking, signature: signatureOf(plan.thinking) });
  if (plan.text !== '' || plan.toolCalls.length === 0) out.push({ type: 'text', text: plan.text });
  plan.toolCalls.forEach((call, i) =>
    out.push({ type: 'tool_use', id: toolUseId(i), name: call.name, input: call.args }),
  );
  return out;
}

const stopReason = (plan: ReplyPlan) => (plan.toolCalls.length > 0 ? 'tool_use' : 'end_turn');

function usage(input: number, output: number) {
  return {
    input_tokens: input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
}

function messageObject(ctx: EncodeContext, content: Block[], stop: string | null, input: number, output: number) {
  return {
    id: `msg_${ctx.id}`,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: usage(input, output),
  };
}

export function message(ctx: EncodeContext, plan: ReplyPlan): unknown {
  return messageObject(ctx, blocks(plan), stopReason(plan), plan.inputTokens, plan.outputTokens);
}

export function messageFrames(ctx: EncodeContext, plan: ReplyPlan): string[] {
  const frames: string[] = [];
  const emit = (type: string, data: Record<string, unknown>) => frames.push(eventFrame(type, { type, ...data }));
  // message_start reports the input tokens and a provisional output count, as the API does.
  emit('message_start', { message: messageObject(ctx, [], null, plan.inputTokens, 1) });
  blocks(plan).forEach((block, index) => {
    if (block.type === 'thinking') {
      emit('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      for (const thinking of splitText(plan.thinking, ctx.streamChunks)) {
        emit('content_block_delta', { index, delta: { type: 'thinking_delta', thinking } });
      }
      emit('content_block_delta', { index, delta: { type: 'signature_delta', signature: block.signature } });
    } else if (block.type === 'text') {
      emit('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) emit('ping', {});
      for (const text of splitText(plan.text, ctx.streamChunks)) {
        emit('content_block_delta', { index, delta: { type: 'text_delta', text } });
      }
    } else {
      emit('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      for (const partial_json of splitJson(JSON.stringify(block.input), ctx.streamChunks)) {
        emit('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
      }
    }
    emit('content_block_stop', { index });
  });
  emit('message_delta', {
    delta: { stop_reason: stopReason(plan), stop_sequence: null },
    usage: {
      input_tokens: plan.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: plan.outputTokens,
    },
  });
  emit('message_stop', {});
  return frames;
}

export function anthropicModelList(models: string[], createdIso: string): unknown {
  const data = models.map((id) => ({ type: 'model', id, display_name: id, created_at: createdIso }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
