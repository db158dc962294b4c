import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotOf, type Catalog, type CredentialInfo } from '@cpa/catalog';
import { testCredential } from '@cpa/catalog/testing';
import { Patterns, type AttemptFailure, type ResponseHead, type RouteRequest } from '@cpa/contracts';
import { bindingKey, isBlockedForModel } from '@cpa/routing';
import { isForward, isFrame, type Forward, type Frame } from '@cpa/transport';
import { DispatchService } from './dispatch.service';
import { RoutingStateStore } from './routing-state.store';
import type { NextRound, ScheduledAttempt } from './scheduled-attempt';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:local:'}routing:`;
const MODEL = 'claude-sonnet-4-5';

/** A claude API key serving MODEL. */
const credential = (id: string, over: Partial<CredentialInfo> = {}) =>
  testCredential(id, { models: [{ name: MODEL, alias: MODEL }], ...over });

/** The catalog as the scheduler sees it, without Postgres. */
class TestCatalog {
  snapshot = snapshotOf([], {});
  set(credentials: CredentialInfo[], settings: Record<string, unknown> = {}): this {
    this.snapshot = snapshotOf(credentials, settings);
    return this;
  }
}

const stores: RoutingStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

/** `n` scheduler replicas sharing one Redis key space (and one catalog); `stores[i]` is the store of `services[i]`. */
function replicas(
  catalog: TestCatalog,
  n = 2,
  prefix = `${runPrefix}${randomUUID()}:`,
): { services: DispatchService[]; stores: RoutingStateStore[]; prefix: string } {
  const own = Array.from({ length: n }, () => new RoutingStateStore({ redisUrl, keyPrefix: prefix }));
  stores.push(...own);
  return {
    services: own.map((store) => new DispatchService(catalog as unknown as Catalog, store)),
    stores: own,
    prefix,
  };
}

function route(over: Partial<RouteRequest> = {}): RouteRequest {
  return {
    requestId: randomUUID(),
    clientFormat: 'claude',
    model: MODEL,
    stream: false,
    sessionIds: [],
    headers: {},
    deadline: Date.now() + 60_000,
    ...over,
  };
}

function attemptOf(result: Forward | Frame): ScheduledAttempt {
  if (!isForward(result)) throw new Error(`expected a forward, got ${JSON.stringify(replyOf(result))}`);
  expect(result.pattern).toBe(Patterns.execute('claude'));
  return result.data as ScheduledAttempt;
}

/** A request parked for a cooldown: the delayed forward the transport queues again when due. */
function parkedOf(result: Forward | Frame): { next: NextRound; delayMs: number } {
  if (!isForward(result) || result.pattern !== Patterns.nextRound)
    throw new Error('expected the request to be parked for the next round');
  return { next: result.data as NextRound, delayMs: result.delayMs ?? 0 };
}

/** What the transport does with a parked request: queue it when due, where a scheduler takes its next round up. */
async function afterWait(svc: DispatchService, result: Forward | Frame): Promise<Forward | Frame> {
  const { next, delayMs } = parkedOf(result);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  return svc.nextRound(JSON.parse(JSON.stringify(next)) as NextRound);
}

function replyOf(result: Forward | Frame): { head: ResponseHead; body: string; json: unknown } {
  if (!isFrame(result)) throw new Error(`expected a reply frame, got a forward to ${(result as Forward).pattern}`);
  const body = result.body?.toString() ?? '';
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { head: result.meta as ResponseHead, body, json };
}

function failure(execute: ScheduledAttempt, status: number, over: Partial<AttemptFailure> = {}): AttemptFailure {
  const body =
    status === 400
      ? JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: 'max_tokens: field required' },
        })
      : JSON.stringify({
          type: 'error',
          error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message: `upstream ${status}` },
        });
  return { execute, status, headers: { 'content-type': 'application/json' }, body, ...over };
}

const count = (ids: string[]) =>
  ids.reduce<Record<string, number>>((acc, id) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }), {});

describe('round-robin across replicas', () => {
  it('splits 300 concurrent requests over 3 credentials exactly 100/100/100 whichever replica served them', async () => {
    const catalog = new TestCatalog().set([credential('c'), credential('a'), credential('b')]);
    const { services } = replicas(catalog, 2);
    const picks = await Promise.all(Array.from({ length: 300 }, (_, i) => services[i % 2]!.dispatch(route())));
    expect(count(picks.map((p) => attemptOf(p).credentialId))).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('cycles in id order, one cursor per provider and base model, shared by the thinking-suffix variants', async () => {
    const catalog = new TestCatalog().set([credential('b'), credential('a')]);
    const { services } = replicas(catalog, 2);
    const order: string[] = [];
    for (let i = 0; i < 4; i++)
      order.push(
        attemptOf(await services[i % 2]!.dispatch(route({ model: i % 2 ? `${MODEL}(16384)` : MODEL }))).credentialId,
      );
    expect(order).toEqual(['a', 'b', 'a', 'b']);
  });

  it('keeps the thinking suffix for the upstream and keys state by the base model', async () => {
    const catalog = new TestCatalog().set([credential('a')]);
    const [svc] = replicas(catalog, 1).services;
    const attempt = attemptOf(await svc!.dispatch(route({ model: `${MODEL}(high)` })));
    expect(attempt.upstreamModel).toBe(`${MODEL}(high)`);
    expect(attempt.baseModel).toBe(MODEL);
  });

  it('uses only the highest priority tier that has an available credential', async () => {
    const catalog = new TestCatalog().set([
      credential('low', { priority: 0 }),
      credential('high1', { priority: 5 }),
      credential('high2', { priority: 5 }),
    ]);
    const [svc] = replicas(catalog, 1).services;
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) picks.push(attemptOf(await svc!.dispatch(route())).credentialId);
    expect(picks).toEqual(['high1', 'high2', 'high1', 'high2']);
  });
});

describe('other strategies', () => {
  it('weighted round-robin 5:3:2 gives exactly 50/30/20 over 100 picks across two replicas', async () => {
    const catalog = new TestCatalog().set(
      [credential('a', { weight: 5 }), credential('b', { weight: 3 }), credential('c', { weight: 2 })],
      { 'routing.strategy': 'weighted-round-robin' },
    );
    const { services } = replicas(catalog, 2);
    const picks = await Promise.all(Array.from({ length: 100 }, (_, i) => services[i % 2]!.dispatch(route())));
    expect(count(picks.map((p) => attemptOf(p).credentialId))).toEqual({ a: 50, b: 30, c: 20 });
  });

  it('fill-first burns the first credential and falls back to the next while it cools', async () => {
    const catalog = new TestCatalog().set([credential('b'), credential('a')], { 'routing.strategy': 'fill-first' });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(route()));
    expect(first.credentialId).toBe('a');
    expect(attemptOf(await svc!.dispatch(route())).credentialId).toBe('a');
    const failover = attemptOf(await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 60_000 })));
    expect(failover.credentialId).toBe('b');
    expect(attemptOf(await svc!.dispatch(route())).credentialId).toBe('b');
  });

  it('picks up a strategy change from a catalog reload without restart', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const [svc] = replicas(catalog, 1).services;
    expect([
      attemptOf(await svc!.dispatch(route())).credentialId,
      attemptOf(await svc!.dispatch(route())).credentialId,
    ]).toEqual(['a', 'b']);
    catalog.set([credential('a'), credential('b')], { 'routing.strategy': 'fill-first' });
    expect([
      attemptOf(await svc!.dispatch(route())).credentialId,
      attemptOf(await svc!.dispatch(route())).credentialId,
    ]).toEqual(['a', 'a']);
  });

  it('rotates the starting provider per model when several providers serve it', async () => {
    const compat = (id: string) =>
      credential(id, { provider: 'openai-compat', providerName: 'mock', models: [{ name: MODEL, alias: MODEL }] });
    const catalog = new TestCatalog().set([credential('claude-1'), compat('compat-1')]);
    const [svc] = replicas(catalog, 1).services;
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await svc!.dispatch(route());
      if (!isForward(result)) throw new Error('expected a forward');
      picks.push((result.data as ScheduledAttempt).credentialId);
    }
    expect(picks).toEqual(['claude-1', 'compat-1', 'claude-1', 'compat-1']);
  });
});

describe('session affinity', () => {
  const settings = { 'routing.session-affinity': true };

  it('lands 100 concurrent requests of one new session on one credential across replicas', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b'), credential('c')], settings);
    const { services } = replicas(catalog, 2);
    const picks = await Promise.all(
      Array.from({ length: 100 }, (_, i) => services[i % 2]!.dispatch(route({ sessionIds: ['claude:s-1'] }))),
    );
    expect(new Set(picks.map((p) => attemptOf(p).credentialId)).size).toBe(1);
  });

  it('keeps a session on its credential while other sessions rotate, and a later turn inherits the first-turn binding', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b'), credential('c')], settings);
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(route({ sessionIds: ['msg:turn1'] }))).credentialId;
    const others = [];
    for (let i = 0; i < 3; i++)
      others.push(attemptOf(await svc!.dispatch(route({ sessionIds: [`header:other-${i}`] }))).credentialId);
    expect(new Set(others).size).toBe(3);
    expect(attemptOf(await svc!.dispatch(route({ sessionIds: ['msg:turn1'] }))).credentialId).toBe(first);
    // Turn 2: a new primary id with turn 1's hash as fallback.
    expect(attemptOf(await svc!.dispatch(route({ sessionIds: ['msg:turn2', 'msg:turn1'] }))).credentialId).toBe(first);
    expect(attemptOf(await svc!.dispatch(route({ sessionIds: ['msg:turn2'] }))).credentialId).toBe(first);
  });

  it('rebinds a session when its credential fails and removes the old binding with compare-and-delete', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')], settings);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const sessionIds = ['claude:s-rebind'];
    const bound = attemptOf(await svc!.dispatch(route({ sessionIds })));
    const key = bindingKey('claude', 'claude:s-rebind', MODEL);
    expect(await store.bindingsOf([key])).toEqual([bound.credentialId]);
    const moved = attemptOf(await svc!.attemptFailed(failure(bound, 401)));
    expect(moved.credentialId).not.toBe(bound.credentialId);
    expect(await store.bindingsOf([key])).toEqual([moved.credentialId]);
    expect(attemptOf(await svc!.dispatch(route({ sessionIds }))).credentialId).toBe(moved.credentialId);
  });

  it('never removes a binding that already points at another credential', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')], settings);
    const {
      stores: [store],
    } = replicas(catalog, 1);
    await store.bind(['claude::s::m'], 'b', 60_000, { kind: 'nx' });
    await store.update('a', () => undefined, ['claude::s::m']);
    expect(await store.bindingsOf(['claude::s::m'])).toEqual(['b']);
    await store.update('b', () => undefined, ['claude::s::m']);
    expect(await store.bindingsOf(['claude::s::m'])).toEqual([null]);
  });

  it('drops the bindings of a credential that gets disabled', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')], settings);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    await svc!.catalogChanged();
    const bound = attemptOf(await svc!.dispatch(route({ sessionIds: ['claude:s-off'] }))).credentialId;
    catalog.set([credential('a', { disabled: bound === 'a' }), credential('b', { disabled: bound === 'b' })], settings);
    await svc!.catalogChanged();
    expect(await store.bindingsOf([bindingKey('claude', 'claude:s-off', MODEL)])).toEqual([null]);
  });
});

describe('results and cooldowns', () => {
  it('cools a credential for the upstream Retry-After after a 429 and fails over to the healthy one', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const { services, stores } = replicas(catalog, 2);
    const first = attemptOf(await services[0]!.dispatch(route()));
    const t0 = Date.now();
    const next = attemptOf(await services[0]!.attemptFailed(failure(first, 429, { retryAfterMs: 7_000 })));
    expect(next.credentialId).not.toBe(first.credentialId);
    expect(next.triedCredentialIds).toEqual([first.credentialId, next.credentialId]);
    // The other replica sees the cooldown too.
    for (let i = 0; i < 4; i++)
      expect(attemptOf(await services[1]!.dispatch(route())).credentialId).toBe(next.credentialId);
    const state = await stores[1]!.readStates([first.credentialId]);
    const ms = state.get(first.credentialId)!.state!.modelStates[MODEL]!;
    expect(ms.quota.exceeded).toBe(true);
    expect(ms.nextRetryAfter).toBeGreaterThanOrEqual(t0 + 7_000);
    expect(ms.nextRetryAfter).toBeLessThanOrEqual(Date.now() + 7_000);
  });

  it('escalates the 429 backoff once per open window (1s, then 2s after the window closed)', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 0 });
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    let now = 1_000_000_000_000;
    svc!.now = () => now;
    const attempt = attemptOf(await svc!.dispatch(route()));
    await svc!.attemptFailed(failure(attempt, 429));
    await svc!.attemptFailed(failure(attempt, 429));
    let ms = (await store.readStates(['a'])).get('a')!.state!.modelStates[MODEL]!;
    expect(ms.quota.backoffLevel).toBe(1);
    expect(ms.nextRetryAfter).toBe(now + 1_000);
    now += 1_500;
    await svc!.attemptFailed(failure(attempt, 429));
    ms = (await store.readStates(['a'])).get('a')!.state!.modelStates[MODEL]!;
    expect(ms.quota.backoffLevel).toBe(2);
    expect(ms.nextRetryAfter).toBe(now + 2_000);
  });

  it('clears the model state on success', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')], { 'max-retry-interval': 0 });
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    let now = 1_000_000_000_000;
    svc!.now = () => now;
    const a = attemptOf(await svc!.dispatch(route()));
    await svc!.attemptFailed(failure(a, 500));
    now += 61_000;
    await svc!.attemptFinished({ credentialId: 'a', family: 'claude', baseModel: MODEL, ok: true, status: 200 });
    const state = (await store.readStates(['a'])).get('a')!.state!;
    expect(state.modelStates[MODEL]).toMatchObject({ status: 'active', unavailable: false, nextRetryAfter: 0 });
    expect(state.status).toBe('active');
  });

  it('applies a batch of results in order, so the last result on a credential stands', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const result = (credentialId: string, ok: boolean) => ({
      credentialId,
      family: 'claude' as const,
      baseModel: MODEL,
      ok,
      status: ok ? 200 : 500,
      ...(ok ? {} : { error: 'boom' }),
    });
    await svc!.attemptsFinished([result('a', false), result('b', true), result('a', true), result('b', false)]);
    const states = await store.readStates(['a', 'b']);
    expect(states.get('a')!.state!.modelStates[MODEL]).toMatchObject({ status: 'active', unavailable: false });
    expect(states.get('b')!.state!.modelStates[MODEL]).toMatchObject({ status: 'error', unavailable: true });
  });

  it('returns a request-shaped error as is, without cooldown or failover', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const attempt = attemptOf(await svc!.dispatch(route()));
    const f = failure(attempt, 400);
    const reply = replyOf(await svc!.attemptFailed(f));
    expect(reply.head.status).toBe(400);
    expect(reply.body).toBe(f.body);
    expect((await store.readStates([attempt.credentialId])).get(attempt.credentialId)!.version).toBe(0);
  });

  it('clears every cooldown of a credential on reset-quota', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 0 });
    const { services } = replicas(catalog, 2);
    const attempt = attemptOf(await services[0]!.dispatch(route()));
    await services[0]!.attemptFailed(failure(attempt, 429, { retryAfterMs: 3_600_000 }));
    expect(replyOf(await services[1]!.dispatch(route())).head.status).toBe(429);
    const state = await services[1]!.resetQuota('a');
    expect(isBlockedForModel({ state }, MODEL, Date.now()).blocked).toBe(false);
    expect(attemptOf(await services[0]!.dispatch(route())).credentialId).toBe('a');
  });

  it('keeps the state in Redis across a scheduler restart', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')], { 'max-retry-interval': 0 });
    const { services, prefix } = replicas(catalog, 1);
    const a = attemptOf(await services[0]!.dispatch(route()));
    await services[0]!.attemptFailed(failure(a, 401));
    await Promise.all(stores.splice(0).map((s) => s.close()));
    const [restarted] = replicas(catalog, 1, prefix).services;
    for (let i = 0; i < 3; i++) expect(attemptOf(await restarted!.dispatch(route())).credentialId).toBe('b');
  });
});

describe('retries and exhaustion', () => {
  it('tries distinct credentials up to max-retry-credentials, then returns the last upstream error', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b'), credential('c')], {
      'max-retry-credentials': 2,
      'max-retry-interval': 0,
    });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(route()));
    const second = attemptOf(await svc!.attemptFailed(failure(first, 500)));
    expect(second.credentialId).not.toBe(first.credentialId);
    const reply = replyOf(await svc!.attemptFailed(failure(second, 500)));
    expect(reply.head.status).toBe(500);
    expect(reply.json).toEqual({ type: 'error', error: { type: 'api_error', message: 'upstream 500' } });
  });

  it('waits for the nearest cooldown and starts another round', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 5 });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(route()));
    const parked = await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 300 }));
    const { delayMs, next } = parkedOf(parked);
    expect(delayMs).toBeGreaterThan(250);
    expect(delayMs).toBeLessThanOrEqual(300);
    expect(next).toMatchObject({ round: 1, attempt: 1, tried: ['a'], lastFailure: { status: 429 } });
    const again = attemptOf(await afterWait(svc!, parked));
    expect(again).toMatchObject({ credentialId: 'a', round: 1, attempt: 1, roundTried: ['a'] });
  });

  it('stops after request-retry rounds and returns the upstream error', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 5, 'request-retry': 1 });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(route()));
    const second = attemptOf(
      await afterWait(svc!, await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 100 }))),
    );
    expect(second.round).toBe(1);
    const reply = replyOf(await svc!.attemptFailed(failure(second, 429, { retryAfterMs: 100 })));
    expect(reply.head.status).toBe(429);
    expect(reply.head.headers['retry-after']).toBe('1');
  });

  it('parks a long cooldown wait instead of holding the handler, and another replica takes the next round up', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 60 });
    const [svc, other] = replicas(catalog, 2).services;
    const first = attemptOf(await svc!.dispatch(route()));
    const started = Date.now();
    const { next, delayMs } = parkedOf(await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 30_000 })));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(delayMs).toBeGreaterThan(29_000);
    // Still cooling when taken up early: parked again for what is left, nothing sent upstream.
    const again = parkedOf(await other!.nextRound(JSON.parse(JSON.stringify(next)) as NextRound));
    expect(again.delayMs).toBeLessThanOrEqual(delayMs);
    expect(again.next.round).toBe(2);
  });

  it('answers model_cooldown 429 with Retry-After when every credential is cooling', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const [svc] = replicas(catalog, 1).services;
    const a = attemptOf(await svc!.dispatch(route()));
    const b = attemptOf(await svc!.attemptFailed(failure(a, 429, { retryAfterMs: 120_000 })));
    const last = replyOf(await svc!.attemptFailed(failure(b, 429, { retryAfterMs: 90_000 })));
    expect(last.head.status).toBe(429);
    expect(last.json).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'upstream 429' } });
    const reply = replyOf(await svc!.dispatch(route()));
    expect(reply.head).toMatchObject({ status: 429, complete: true });
    expect(reply.head.headers['content-type']).toBe('application/json');
    expect(reply.head.headers['retry-after']).toBe('90');
    expect(reply.json).toEqual({
      error: {
        code: 'model_cooldown',
        message: `All credentials for model ${MODEL} are cooling down via provider claude`,
        model: MODEL,
        provider: 'claude',
        reset_seconds: 90,
        reset_time: '1m30s',
      },
    });
  });

  it('answers auth_unavailable 503 when no credential can serve', async () => {
    const catalog = new TestCatalog().set([credential('a')], { 'max-retry-interval': 0 });
    const [svc] = replicas(catalog, 1).services;
    const a = attemptOf(await svc!.dispatch(route()));
    expect(replyOf(await svc!.attemptFailed(failure(a, 401))).head.status).toBe(401);
    const reply = replyOf(await svc!.dispatch(route()));
    expect(reply.head.status).toBe(503);
    expect(reply.json).toEqual({
      error: {
        message: `auth_unavailable: no auth available (providers=claude, model=${MODEL})`,
        type: 'server_error',
        code: 'auth_unavailable',
      },
    });
  });

  it('fails over on a network error or empty stream without cooling the credential', async () => {
    const catalog = new TestCatalog().set([credential('a'), credential('b')]);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const a = attemptOf(await svc!.dispatch(route({ stream: true })));
    const b = attemptOf(
      await svc!.attemptFailed(
        failure(a, 502, {
          network: true,
          body: '{"error":{"message":"upstream closed the stream before sending any data"}}',
        }),
      ),
    );
    expect(b.credentialId).not.toBe(a.credentialId);
    const reply = replyOf(
      await svc!.attemptFailed(failure(b, 502, { network: true, body: '{"error":{"message":"empty"}}' })),
    );
    expect(reply.head.status).toBe(502);
    const states = await store.readStates(['a', 'b']);
    for (const id of ['a', 'b'])
      expect(isBlockedForModel({ state: states.get(id)!.state }, MODEL, Date.now()).blocked).toBe(false);
  });
});

describe('alias pools', () => {
  const POOL = 'fast';
  const pooled = (id: string, members = ['model-x', 'model-y'], over: Partial<CredentialInfo> = {}) =>
    credential(id, { models: members.map((name) => ({ name, alias: POOL })), ...over });
  const poolRoute = (over: Partial<RouteRequest> = {}) => route({ model: POOL, ...over });
  const served = (a: ScheduledAttempt) => `${a.credentialId}/${a.upstreamModel}`;

  it('rotates the starting member per request and credential, the rotation shared by replicas', async () => {
    const catalog = new TestCatalog().set([pooled('b'), pooled('a')]);
    const { services } = replicas(catalog, 2);
    const picks: ScheduledAttempt[] = [];
    for (let i = 0; i < 6; i++) picks.push(attemptOf(await services[i % 2]!.dispatch(poolRoute())));
    expect(picks.map(served)).toEqual(['a/model-x', 'b/model-x', 'a/model-y', 'b/model-y', 'a/model-x', 'b/model-x']);
    expect(picks[0]).toMatchObject({ baseModel: 'model-x', poolRemaining: ['model-y'] });
    expect(picks[2]).toMatchObject({ baseModel: 'model-y', poolRemaining: ['model-x'] });
  });

  it('sends every member with the thinking suffix, rotating with the unsuffixed requests', async () => {
    const catalog = new TestCatalog().set([pooled('a')]);
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    const second = attemptOf(await svc!.dispatch(poolRoute({ model: `${POOL}(high)` })));
    expect([first.upstreamModel, second.upstreamModel]).toEqual(['model-x', 'model-y(high)']);
    expect(second).toMatchObject({ baseModel: 'model-y', poolRemaining: ['model-x(high)'] });
  });

  it('tries the next member on the same credential before another credential, and keeps state per member', async () => {
    const catalog = new TestCatalog().set([pooled('a'), pooled('b')]);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    expect(served(first)).toBe('a/model-x');
    const second = attemptOf(await svc!.attemptFailed(failure(first, 500)));
    expect(second).toMatchObject({
      credentialId: 'a',
      upstreamModel: 'model-y',
      baseModel: 'model-y',
      attempt: 1,
      round: 0,
      roundTried: ['a'],
      triedCredentialIds: ['a'],
    });
    expect(second.poolRemaining).toBeUndefined();
    const third = attemptOf(await svc!.attemptFailed(failure(second, 429, { retryAfterMs: 60_000 })));
    expect(third).toMatchObject({
      credentialId: 'b',
      upstreamModel: 'model-x',
      attempt: 2,
      roundTried: ['a', 'b'],
      triedCredentialIds: ['a', 'b'],
      poolRemaining: ['model-y'],
    });
    const state = (await store.readStates(['a'])).get('a')!.state!;
    expect(Object.keys(state.modelStates).sort()).toEqual(['model-x', 'model-y']);
    expect(state.modelStates['model-x']).toMatchObject({ unavailable: true, quota: { exceeded: false } });
    expect(state.modelStates['model-y']).toMatchObject({ unavailable: true, quota: { exceeded: true } });
    // Both members of a are cooling: the credential is skipped while b keeps rotating its pool.
    const later = [];
    for (let i = 0; i < 3; i++) later.push(served(attemptOf(await svc!.dispatch(poolRoute()))));
    expect(later).toEqual(['b/model-y', 'b/model-x', 'b/model-y']);
  });

  it('does not count pool members against max-retry-credentials', async () => {
    const catalog = new TestCatalog().set([pooled('a'), pooled('b')], {
      'max-retry-credentials': 1,
      'max-retry-interval': 0,
    });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    const second = attemptOf(await svc!.attemptFailed(failure(first, 500)));
    expect(served(second)).toBe('a/model-y');
    const reply = replyOf(await svc!.attemptFailed(failure(second, 503)));
    expect(reply.head.status).toBe(503);
  });

  it('skips a cooling member wherever the rotation starts', async () => {
    const catalog = new TestCatalog().set([pooled('a', ['model-x', 'model-y', 'model-z'])]);
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    expect(first).toMatchObject({ upstreamModel: 'model-x', poolRemaining: ['model-y', 'model-z'] });
    const second = attemptOf(await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 600_000 })));
    expect(second).toMatchObject({ credentialId: 'a', upstreamModel: 'model-y', poolRemaining: ['model-z'] });
    await svc!.attemptFinished({
      credentialId: 'a',
      family: 'claude',
      baseModel: second.baseModel,
      ok: true,
      status: 200,
    });
    const next = [];
    for (let i = 0; i < 3; i++) {
      const a = attemptOf(await svc!.dispatch(poolRoute()));
      next.push([a.upstreamModel, a.poolRemaining ?? []]);
    }
    // Offsets 1, 2, 3: [y z x], [z x y], [x y z], model-x left out each time.
    expect(next).toEqual([
      ['model-y', ['model-z']],
      ['model-z', ['model-y']],
      ['model-y', ['model-z']],
    ]);
  });

  it('stops on a request-shaped error without trying the other members', async () => {
    const catalog = new TestCatalog().set([pooled('a'), pooled('b')]);
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    const f = failure(first, 400);
    const reply = replyOf(await svc!.attemptFailed(f));
    expect(reply.head.status).toBe(400);
    expect(reply.body).toBe(f.body);
    expect((await store.readStates(['a'])).get('a')!.version).toBe(0);
  });

  it('waits for the earliest member of a fully cooling pool before the next round', async () => {
    const catalog = new TestCatalog().set([pooled('a')], { 'max-retry-interval': 5 });
    const [svc] = replicas(catalog, 1).services;
    const first = attemptOf(await svc!.dispatch(poolRoute()));
    const second = attemptOf(await svc!.attemptFailed(failure(first, 429, { retryAfterMs: 4_000 })));
    const parked = await svc!.attemptFailed(failure(second, 429, { retryAfterMs: 300 }));
    expect(parkedOf(parked).delayMs).toBeGreaterThan(250);
    const again = attemptOf(await afterWait(svc!, parked));
    // Round 1 starts the pool at model-y (offset 1); model-x is still cooling.
    expect(again).toMatchObject({ credentialId: 'a', upstreamModel: 'model-y', round: 1, roundTried: ['a'] });
    expect(again.poolRemaining).toBeUndefined();
  });

  it('keeps a session bound to its credential while the pool fails over, and moves it when the pool is spent', async () => {
    const catalog = new TestCatalog().set([pooled('a'), pooled('b')], { 'routing.session-affinity': true });
    const {
      services: [svc],
      stores: [store],
    } = replicas(catalog, 1);
    const sessionIds = ['claude:s-pool'];
    const key = bindingKey('claude', 'claude:s-pool', POOL);
    const first = attemptOf(await svc!.dispatch(poolRoute({ sessionIds })));
    expect(await store.bindingsOf([key])).toEqual([first.credentialId]);
    const second = attemptOf(await svc!.attemptFailed(failure(first, 500)));
    expect(second.credentialId).toBe(first.credentialId);
    expect(await store.bindingsOf([key])).toEqual([first.credentialId]);
    const third = attemptOf(await svc!.attemptFailed(failure(second, 500)));
    expect(third.credentialId).not.toBe(first.credentialId);
    expect(await store.bindingsOf([key])).toEqual([third.credentialId]);
  });
});
