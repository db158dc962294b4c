import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecuteRequest } from '@cpa/contracts';
import { errorEntry, RequestErrorLogStore } from '@cpa/providers';
import { ManagementError } from './management-error';
import { renderErrorLog, RequestErrorLogsService } from './request-error-logs';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = `cpa-test:request-errors:${randomUUID()}:`;
const stores: RequestErrorLogStore[] = [];
const storeOf = (limit: number, prefix = keyPrefix) => {
  const store = RequestErrorLogStore.connect(redisUrl, prefix, limit);
  stores.push(store);
  return store;
};

afterAll(async () => {
  const { deleteKeys } = await import('../../../tools/redis-keys.mjs');
  await deleteKeys(redisUrl, keyPrefix);
  await Promise.all(stores.map((s) => s.onApplicationShutdown()));
});

const execute = (requestId: string, attempt: number): ExecuteRequest => ({
  route: {
    requestId,
    clientFormat: 'claude',
    model: 'claude-x',
    stream: false,
    sessionIds: [],
    headers: {},
    deadline: 0,
  },
  credentialId: `cred-${attempt}`,
  family: 'claude',
  upstreamModel: 'claude-x',
  baseModel: 'claude-x',
  // The transport counts attempts from 0; the log from 1.
  attempt: attempt - 1,
  triedCredentialIds: [],
});

const failed = (requestId: string, attempt: number, at: string) =>
  errorEntry(
    execute(requestId, attempt),
    {
      url: 'https://api.anthropic.test/v1/messages',
      headers: { 'x-api-key': 'sk-ant-secret-123', 'anthropic-version': '2023-06-01' },
      body: '{"model":"claude-x"}',
      response: {
        status: 529,
        headers: { 'content-type': 'application/json' },
        body: '{"type":"error","error":{"type":"overloaded_error"}}',
      },
    },
    ['sk-ant-secret-123'],
    new Date(at),
  );

describe('request error logs in Redis', () => {
  it('keeps the newest N entries, shared by every reader, and groups them per request', async () => {
    const writer = storeOf(3);
    const reader = new RequestErrorLogsService(storeOf(3));
    await writer.record(failed('req-old', 1, '2026-11-30T06:00:00Z'));
    await writer.record(failed('req-a', 1, '2026-11-30T07:00:00Z'));
    await writer.record(failed('req-a', 2, '2026-11-30T07:00:01Z'));
    await writer.record(failed('req-b', 1, '2026-11-30T07:00:02Z'));

    const { files } = await reader.list();
    // Capped at 3 entries: req-old's fell off; newest request first.
    expect(files.map((f) => [f.request_id, f.attempts, f.status])).toEqual([
      ['req-b', 1, 529],
      ['req-a', 2, 529],
    ]);
    expect(files[1]).toMatchObject({
      name: 'error-v1-messages-2026-11-30T070000-req-a.log',
      client_format: 'claude',
      model: 'claude-x',
      modified: Date.parse('2026-11-30T07:00:01Z') / 1000,
    });

    const file = await reader.byName(files[1]!.name);
    expect(file.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    const text = renderErrorLog(file);
    expect(files[1]!.size).toBe(Buffer.byteLength(text));
    expect(text).toContain('Request ID: req-a');
    expect(text).toContain('=== API REQUEST 1 ===');
    expect(text).toContain('=== API RESPONSE 2 ===\nStatus: 529');
    expect(text).toContain('x-api-key: [Redacted]');
    expect(text).not.toContain('sk-ant-secret-123');
    expect((await reader.byRequestId('req-b')).name).toBe(files[0]!.name);
  });

  it('answers 404 for names it does not hold, whatever they look like', async () => {
    const reader = new RequestErrorLogsService(storeOf(3));
    for (const name of ['error-v1-messages-2026-11-30T070000-none.log', '../../etc/passwd', 'error-.log']) {
      await expect(reader.byName(name)).rejects.toMatchObject({ status: 404 });
    }
    await expect(reader.byRequestId('none')).rejects.toBeInstanceOf(ManagementError);
  });

  it('keeps nothing with a limit of 0, and answers 503 while Redis is unreachable', async () => {
    const off = storeOf(0, `${keyPrefix}off:`);
    await off.record(failed('req-off', 1, '2026-11-30T07:00:00Z'));
    expect(await off.list()).toEqual([]);
    const down = new RequestErrorLogsService(RequestErrorLogStore.connect('redis://127.0.0.1:1', keyPrefix, 3));
    await expect(down.list()).rejects.toMatchObject({ status: 503, message: 'request error log unavailable' });
  });
});
