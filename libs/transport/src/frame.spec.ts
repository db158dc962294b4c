import { RpcException } from '@nestjs/microservices';
import { describe, expect, it } from 'vitest';
import { forward, frame, isForward, isFrame, toFrame, toRemoteError } from './frame';
import { TransportError } from './transport-error';

describe('toFrame', () => {
  it('uses a frame made with frame() as it is', () => {
    const f = frame({ status: 200 }, Buffer.from('x'));
    expect(isFrame(f)).toBe(true);
    expect(toFrame(f)).toBe(f);
  });

  it('turns a Buffer into a body-only frame', () => {
    const body = Buffer.from([1, 2, 3]);
    expect(toFrame(body)).toEqual({ meta: undefined, body });
  });

  it('turns any other value into a meta-only frame', () => {
    expect(toFrame({ a: 1 })).toEqual({ meta: { a: 1 }, body: undefined });
    expect(toFrame(null)).toEqual({ meta: null, body: undefined });
    expect(toFrame({ meta: 'looks like a frame' })).toEqual({ meta: { meta: 'looks like a frame' }, body: undefined });
  });
});

describe('forward', () => {
  it('is recognised and keeps pattern, data and body choice', () => {
    const f = forward('executor.claude.execute', { n: 1 });
    expect(isForward(f)).toBe(true);
    expect(f).toMatchObject({ pattern: 'executor.claude.execute', data: { n: 1 }, body: undefined });
    expect(forward('a.b', 1, null).body).toBeNull();
    expect(isForward({ pattern: 'a.b', data: 1 })).toBe(false);
  });
});

describe('toRemoteError', () => {
  it('keeps message and a numeric status', () => {
    expect(toRemoteError(Object.assign(new Error('nope'), { status: 429 }))).toEqual({ message: 'nope', status: 429 });
  });

  it("drops NestJS's non-numeric 'error' status", () => {
    expect(toRemoteError({ status: 'error', message: 'Internal server error' })).toEqual({
      message: 'Internal server error',
    });
  });

  it('relays what a rethrown TransportError carries', () => {
    const err = new TransportError('remote', 'upstream said no', 503);
    expect(err).toBeInstanceOf(RpcException);
    expect(err.message).toBe('upstream said no');
    expect(toRemoteError((err as RpcException).getError())).toEqual({ message: 'upstream said no', status: 503 });
  });

  it('handles strings and shapeless values', () => {
    expect(toRemoteError('plain')).toEqual({ message: 'plain' });
    expect(toRemoteError(undefined)).toEqual({ message: 'Internal error' });
    expect(toRemoteError({ message: '' })).toEqual({ message: 'Internal error' });
  });
});
