/**
 * Values of `RouteRequest.action`: what a client request asks for beyond "generate".
 * Generation itself needs no action (streaming is `RouteRequest.stream`).
 */
export const RouteActions = {
  /** Count input tokens instead of generating (Claude count_tokens, Gemini countTokens). */
  countTokens: 'countTokens',
  /**
   * Gemini streamGenerateContent without `alt=sse`: the client reads the stream as one
   * JSON array, not as server-sent events.
   */
  streamJsonArray: 'streamJsonArray',
} as const;
export type RouteAction = (typeof RouteActions)[keyof typeof RouteActions];
