/** One SSE frame with only a data field (OpenAI chat, Gemini alt=sse). */
export const dataFrame = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;

/** One SSE frame with an event name (Anthropic, OpenAI Responses). */
export const eventFrame = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export const DONE_FRAME = 'data: [DONE]\n\n';

/** Inputs every encoder shares. */
export interface EncodeContext {
  id: string;
  created: number;
  model: string;
  streamChunks: number;
}
