/** Why a request was shed: the `reason` label of cpa_gateway_shed_total. */
export type ShedReason = 'requests' | 'bytes';

export interface InFlightLimits {
  /** Proxied requests one gateway process holds at once (0 = no cap). */
  maxRequests: number;
  /** Bytes of request bodies, buffered or announced by Content-Length, held at once (0 = no cap). */
  maxBytes: number;
}

export const DEFAULT_IN_FLIGHT_LIMITS: InFlightLimits = { maxRequests: 2048, maxBytes: 256 * 1024 * 1024 };

/**
 * One admitted request's share of the gateway's capacity. `release` gives it back and may be
 * called any number of times (every exit path calls it; only the first counts).
 */
export interface InFlightTicket {
  /** Counts `bytes` of this request's body as held (the most it has held so far is what counts). */
  hold(bytes: number): void;
  release(): void;
}

export type Admission = { ok: true; ticket: InFlightTicket } | { ok: false; reason: ShedReason };

/**
 * Accounting of the requests and body bytes a gateway process holds, so that a burst is
 * refused at once (503 with Retry-After) instead of buffering bodies until memory runs out.
 * A request is admitted before its body is read: it is refused when the process already
 * holds `maxRequests`, or when its announced Content-Length would take the held bytes past
 * `maxBytes`. A request alone in the process is never refused for bytes (the body limit
 * bounds it), so a cap below the body limit cannot shut out large bodies for good. Bytes
 * a body turns out to have beyond what it announced (chunked bodies) are counted as they
 * arrive; they never cut off a request already admitted. Pure bookkeeping, no I/O.
 */
export class InFlightLimit {
  private heldRequests = 0;
  private heldBytes = 0;

  constructor(private readonly limits: InFlightLimits = DEFAULT_IN_FLIGHT_LIMITS) {}

  /** Requests held now. */
  get requests(): number {
    return this.heldRequests;
  }

  /** Body bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Admits a request announcing `declaredBytes` of body (0 when unknown), or says why not. */
  admit(declaredBytes = 0): Admission {
    const { maxRequests, maxBytes } = this.limits;
    if (maxRequests > 0 && this.heldRequests >= maxRequests) return { ok: false, reason: 'requests' };
    const announced = Number.isFinite(declaredBytes) && declaredBytes > 0 ? declaredBytes : 0;
    const overBytes = this.heldBytes >= maxBytes || this.heldBytes + announced > maxBytes;
    if (maxBytes > 0 && this.heldRequests > 0 && overBytes) return { ok: false, reason: 'bytes' };
    this.heldRequests += 1;
    this.heldBytes += announced;
    let held = announced;
    let released = false;
    return {
      ok: true,
      ticket: {
        hold: (bytes) => {
          if (released || !(bytes > held)) return;
          this.heldBytes += bytes - held;
          held = bytes;
        },
        release: () => {
          if (released) return;
          released = true;
          this.heldRequests -= 1;
          this.heldBytes -= held;
        },
      },
    };
  }
}
