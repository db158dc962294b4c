import { firstValueFrom } from 'rxjs';
import { z } from 'zod';
import { Patterns, type RefreshCredentialReply, type RefreshCredentialRequest } from '@cpa/contracts';
import type { RedisTransportClient } from '@cpa/transport';

/** Where an executor asks for new OAuth tokens after an upstream 401 (refresh-on-401). */
export interface CredentialRefresher {
  /**
   * Asks for newer tokens than the refused one (`rejectedToken` is its `tokenFingerprint`).
   * Never throws: a failed or timed-out request, or an aborted `signal`, is `{ ok: false }`.
   */
  refreshRejected(credentialId: string, rejectedToken: string, signal: AbortSignal): Promise<RefreshCredentialReply>;
}
export const CREDENTIAL_REFRESHER = Symbol('CREDENTIAL_REFRESHER');

/** Longest wait for the refresh-worker's answer (a token endpoint answers in well under that). */
export const REFRESH_REQUEST_TIMEOUT_MS = 15_000;

const ReplySchema = z.object({ ok: z.boolean(), version: z.number().int().optional(), reason: z.string().optional() });

/**
 * Sends `refresh-worker.refresh` over the Redis transport. Concurrent 401s of one token
 * in this process share one request, so a burst of refused requests costs one refresh.
 */
export class TransportCredentialRefresher implements CredentialRefresher {
  private readonly inFlight = new Map<string, Promise<RefreshCredentialReply>>();

  constructor(
    private readonly client: RedisTransportClient,
    private readonly timeoutMs = REFRESH_REQUEST_TIMEOUT_MS,
  ) {}

  refreshRejected(credentialId: string, rejectedToken: string, signal: AbortSignal): Promise<RefreshCredentialReply> {
    const key = `${credentialId}\n${rejectedToken}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.ask({ credentialId, rejectedToken }).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    // The shared request is bounded by its own deadline; each caller also stops at its signal.
    return untilAborted(pending, signal, { ok: false, reason: 'request cancelled' });
  }

  private async ask(request: RefreshCredentialRequest): Promise<RefreshCredentialReply> {
    try {
      const reply = await firstValueFrom(
        this.client.request(Patterns.refresh, request, { deadline: Date.now() + this.timeoutMs }),
      );
      const parsed = ReplySchema.safeParse(reply.meta);
      return parsed.success ? parsed.data : { ok: false, reason: 'malformed refresh reply' };
    } catch (err) {
      return { ok: false, reason: `refresh request failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, aborted: T): Promise<T> {
  if (signal.aborted) return Promise.resolve(aborted);
  return new Promise<T>((resolve) => {
    const onAbort = () => resolve(aborted);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}
