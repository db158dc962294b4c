import { describe, expect, it } from 'vitest';
import { testCredential } from '@cpa/catalog/testing';
import type { AttemptFailure, RouteRequest } from '@cpa/contracts';
import { toDescriptor } from './route-scope';
import {
  firstPosition,
  parkedRound,
  poolRemainingOf,
  positionAfterFailure,
  positionInPool,
  positionOfNextRound,
  scheduledAttempt,
  type ReturnedAttempt,
  type RetryPosition,
} from './scheduled-attempt';

const route: RouteRequest = {
  requestId: 'r1',
  clientFormat: 'claude',
  model: 'pool',
  stream: false,
  sessionIds: [],
  headers: {},
  deadline: 0,
};
const member = (name: string) => ({ upstreamModel: name, stateModel: name });
const credential = toDescriptor(testCredential('b', { provider: 'openai-compat', providerName: 'acme' }));

describe('scheduledAttempt', () => {
  it("adds the credential to both tried lists and sends the pool's remaining members by name", () => {
    const position: RetryPosition = { attempt: 2, round: 1, roundTried: ['a'], tried: ['x', 'a'] };
    expect(
      scheduledAttempt(route, { credential, upstream: member('m1'), pool: [member('m2'), member('m3')] }, position),
    ).toEqual({
      route,
      credentialId: 'b',
      family: 'openai-compat',
      upstreamModel: 'm1',
      baseModel: 'm1',
      attempt: 2,
      triedCredentialIds: ['x', 'a', 'b'],
      round: 1,
      roundTried: ['a', 'b'],
      poolRemaining: ['m2', 'm3'],
    });
  });

  it('starts a new request at attempt 0 of round 0 and names no pool when none is left', () => {
    const attempt = scheduledAttempt(route, { credential, upstream: member('m1'), pool: [] }, firstPosition());
    expect(attempt).toMatchObject({ attempt: 0, round: 0, roundTried: ['b'], triedCredentialIds: ['b'] });
    expect(attempt).not.toHaveProperty('poolRemaining');
  });
});

describe('positions after a failed attempt', () => {
  const failed: ReturnedAttempt = {
    ...scheduledAttempt(
      route,
      { credential, upstream: member('m1'), pool: [member('m2')] },
      { attempt: 3, round: 1, roundTried: ['a'], tried: ['x', 'a'] },
    ),
  };

  it('moves on to another credential with the failed one counted in the round', () => {
    expect(positionAfterFailure(failed)).toEqual({
      attempt: 4,
      round: 1,
      roundTried: ['a', 'b'],
      tried: ['x', 'a', 'b'],
    });
  });

  it("keeps the credential where it was for the pool's next member, so sending it adds it back once", () => {
    const position = positionInPool(failed);
    expect(position).toEqual({ attempt: 4, round: 1, roundTried: ['a'], tried: ['x', 'a'] });
    expect(scheduledAttempt(route, { credential, upstream: member('m2'), pool: [] }, position)).toMatchObject({
      roundTried: ['a', 'b'],
      triedCredentialIds: ['x', 'a', 'b'],
    });
  });

  it("reads an attempt of a scheduler without rounds as round 0 whose tries are the request's", () => {
    const legacy: ReturnedAttempt = {
      route,
      credentialId: 'b',
      family: 'claude',
      upstreamModel: 'm',
      baseModel: 'm',
      attempt: 0,
      triedCredentialIds: ['b'],
    };
    expect(positionAfterFailure(legacy)).toEqual({ attempt: 1, round: 0, roundTried: ['b'], tried: ['b'] });
    expect(poolRemainingOf(legacy)).toEqual([]);
  });

  it('takes only the names out of a pool list that came back altered', () => {
    expect(poolRemainingOf({ ...failed, poolRemaining: ['m2', 7, null, 'm3'] as unknown as string[] })).toEqual([
      'm2',
      'm3',
    ]);
    expect(poolRemainingOf({ ...failed, poolRemaining: 'm2' as unknown as string[] })).toEqual([]);
  });
});

describe('parked rounds', () => {
  const lastFailure = { status: 429, headers: {}, body: '' } as unknown as AttemptFailure;

  it('parks the attempts so far and every credential tried, and starts the next round with none tried in it', () => {
    const next = parkedRound(
      route,
      { attempt: 3, round: 0, roundTried: ['a', 'b'], tried: ['a', 'b'] },
      1,
      lastFailure,
    );
    expect(next).toEqual({ route, attempt: 3, round: 1, tried: ['a', 'b'], lastFailure });
    expect(positionOfNextRound(next)).toEqual({ attempt: 3, round: 1, roundTried: [], tried: ['a', 'b'] });
  });

  it('carries no lastFailure when the round ended on a failed pick', () => {
    expect(parkedRound(route, firstPosition(), 1, undefined)).not.toHaveProperty('lastFailure');
  });
});
