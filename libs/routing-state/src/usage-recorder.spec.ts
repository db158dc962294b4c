import { describe, expect, it } from 'vitest';
import type { AttemptResult } from '@cpa/contracts';
import type { UsageIncrement, UsageRequestRecord } from '@cpa/db/light';
import type { UsageBuffer } from './usage-buffer';
import { UsageRecorder } from './usage-recorder';

/** A buffer that keeps what the recorder flushes. */
function bufferSpy() {
  const increments: UsageIncrement[] = [];
  const requests: UsageRequestRecord[] = [];
  const buffer = {
    push: async (batch: readonly UsageIncrement[]) => void increments.push(...batch),
    pushRequests: async (batch: readonly UsageRequestRecord[]) => void requests.push(...batch),
  } as unknown as UsageBuffer;
  return { buffer, increments, requests };
}

const result = (overrides: Partial<AttemptResult> = {}): AttemptResult => ({
  credentialId: 'c1',
  family: 'claude',
  baseModel: 'm',
  ok: true,
  status: 200,
  ...overrides,
});

describe('UsageRecorder', () => {
  it('counts each attempt on the UTC day it finished, across midnight and back to an earlier day', async () => {
    const { buffer, increments } = bufferSpy();
    const recorder = new UsageRecorder(buffer, 60_000);
    const midnight = Date.UTC(2030, 0, 2);
    recorder.record(result({ usage: { inputTokens: 1, outputTokens: 1 } }), new Date(midnight - 1));
    recorder.record(result(), new Date(midnight));
    recorder.record(result({ ok: false, status: 500 }), new Date(midnight + 3_600_000));
    recorder.record(result(), new Date(midnight - 5_000));
    await recorder.onModuleDestroy();
    expect(increments).toEqual([
      expect.objectContaining({ day: '2030-01-01', credentialId: 'c1', requests: 2, failures: 0, inputTokens: 1 }),
      expect.objectContaining({ day: '2030-01-02', credentialId: 'c1', requests: 2, failures: 1, inputTokens: 0 }),
    ]);
  });

  it('counts today when no time is given', async () => {
    const { buffer, increments } = bufferSpy();
    const recorder = new UsageRecorder(buffer, 60_000);
    const before = new Date().toISOString().slice(0, 10);
    recorder.record(result());
    await recorder.onModuleDestroy();
    const after = new Date().toISOString().slice(0, 10);
    expect([before, after]).toContain(increments[0]?.day);
  });
});
