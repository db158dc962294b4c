import type { TokenUsage } from '@cpa/contracts';
import { createStreamTranslator, createStreamUsageTap } from '@cpa/formats';
import { streamErrorEvent } from './stream-errors';
import { toTokenUsage, type ExchangePlan } from './translation';

/**
 * Turns upstream stream chunks into client bytes as they arrive: untouched for a
 * same-format stream (usage read on the side), translated event by event otherwise.
 */
export interface StreamRelay {
  /** Client bytes for one upstream chunk (possibly empty: no event completed yet). */
  push(chunk: Buffer): Buffer;
  /** The upstream ended: whatever closes the client stream. */
  end(): Buffer;
  /** The upstream broke mid-stream: the client format's own error event. */
  error(status: number, message: string): Buffer;
  /** Token usage the stream reported so far. */
  usage(): TokenUsage | undefined;
}

export function createStreamRelay(plan: Pick<ExchangePlan, 'client' | 'upstream' | 'jsonArray'>, clientModel: string): StreamRelay {
  if (plan.client === plan.upstream) {
    const tap = createStreamUsageTap(plan.upstream);
    return {
      push(chunk) {
        tap.push(chunk);
        return chunk;
      },
      end() {
        tap.end();
        return Buffer.alloc(0);
      },
      error: (status, message) => streamErrorEvent(plan.client, status, message),
      usage: () => toTokenUsage(tap.usage),
    };
  }
  const translator = createStreamTranslator(plan.upstream, plan.client, { model: clientModel, jsonArray: plan.jsonArray });
  return {
    push: (chunk) => Buffer.from(translator.push(chunk)),
    end: () => Buffer.from(translator.end()),
    error: (status, message) => Buffer.from(translator.error({ status, message })),
    usage: () => toTokenUsage(translator.usage),
  };
}
