/**
 * A client format is one wire API the gateway accepts (and an upstream may speak).
 * `openai-completions` is the legacy text-completion shape of the OpenAI API.
 */
export const CLIENT_FORMATS = ['openai-chat', 'openai-completions', 'openai-responses', 'claude', 'gemini'] as const;
export type ClientFormat = (typeof CLIENT_FORMATS)[number];

export function isClientFormat(value: string): value is ClientFormat {
  return (CLIENT_FORMATS as readonly string[]).includes(value);
}
