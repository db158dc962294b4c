import { describe, expect, it } from 'vitest';
import { InFlightLimit, type InFlightTicket } from './in-flight';

function admitted(limit: InFlightLimit, declared?: number): InFlightTicket {
  const out = limit.admit(declared);
  if (!out.ok) throw new Error(`refused: ${out.reason}`);
  return out.ticket;
}

describe('InFlightLimit', () => {
  it('sheds the request past maxRequests and admits again once one is released', () => {
    const limit = new InFlightLimit({ maxRequests: 2, maxBytes: 0 });
    const a = admitted(limit);
    admitted(limit);
    expect(limit.admit()).toEqual({ ok: false, reason: 'requests' });
    a.release();
    expect(limit.requests).toBe(1);
    expect(limit.admit().ok).toBe(true);
  });

  it('sheds a request whose announced body would take the held bytes past maxBytes', () => {
    const limit = new InFlightLimit({ maxRequests: 0, maxBytes: 100 });
    admitted(limit, 60);
    expect(limit.admit(41)).toEqual({ ok: false, reason: 'bytes' });
    const b = admitted(limit, 40);
    expect(limit.bytes).toBe(100);
    // Full: even a request announcing nothing is refused.
    expect(limit.admit()).toEqual({ ok: false, reason: 'bytes' });
    b.release();
    expect(limit.bytes).toBe(60);
    expect(limit.admit(40).ok).toBe(true);
  });

  it('counts bytes a body brings beyond what it announced, as they arrive, and sheds new requests on them', () => {
    const limit = new InFlightLimit({ maxRequests: 0, maxBytes: 100 });
    const chunked = admitted(limit);
    chunked.hold(30);
    chunked.hold(100);
    // Fewer than already held changes nothing (the running total only grows).
    chunked.hold(10);
    expect(limit.bytes).toBe(100);
    expect(limit.admit()).toEqual({ ok: false, reason: 'bytes' });
    chunked.release();
    expect(limit.bytes).toBe(0);
  });

  it('never sheds a request alone in the process for bytes, so a cap below the body limit cannot shut large bodies out', () => {
    const limit = new InFlightLimit({ maxRequests: 0, maxBytes: 10 });
    const big = admitted(limit, 1000);
    expect(limit.admit(1)).toEqual({ ok: false, reason: 'bytes' });
    big.release();
    expect(limit.admit(1000).ok).toBe(true);
  });

  it('counts a release once, however many exit paths call it, and ignores bytes after it', () => {
    const limit = new InFlightLimit({ maxRequests: 1, maxBytes: 100 });
    const t = admitted(limit, 20);
    t.release();
    t.release();
    t.hold(90);
    expect({ requests: limit.requests, bytes: limit.bytes }).toEqual({ requests: 0, bytes: 0 });
    const u = admitted(limit, 20);
    expect(limit.admit()).toEqual({ ok: false, reason: 'requests' });
    u.release();
  });

  it('treats 0 as no cap and ignores nonsense Content-Length values', () => {
    const limit = new InFlightLimit({ maxRequests: 0, maxBytes: 0 });
    for (let i = 0; i < 10_000; i++) admitted(limit, 1 << 20);
    expect(limit.requests).toBe(10_000);
    const capped = new InFlightLimit({ maxRequests: 0, maxBytes: 100 });
    admitted(capped, Number.NaN);
    admitted(capped, -5);
    expect(capped.bytes).toBe(0);
  });
});
