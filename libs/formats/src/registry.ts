import type { ClientFormat } from '@cpa/contracts';
import type { Codec } from './codec';
import { claudeCodec } from './codecs/claude';
import { geminiCodec } from './codecs/gemini';
import { openaiChatCodec, openaiCompletionsCodec } from './codecs/openai-chat';
import { openaiResponsesCodec } from './codecs/openai-responses';

const CODECS: Record<ClientFormat, Codec> = {
  'openai-chat': openaiChatCodec,
  'openai-completions': openaiCompletionsCodec,
  'openai-responses': openaiResponsesCodec,
  claude: claudeCodec,
  gemini: geminiCodec,
};

export function codecFor(format: ClientFormat): Codec {
  const codec = CODECS[format];
  if (!codec) throw new Error(`no codec for format ${String(format)}`);
  return codec;
}
