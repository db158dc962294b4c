import { describe, expect, it } from 'vitest';
import { SerialQueues } from './serial-queues';

/** A task that records when it starts and ends and finishes when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      log.push(`${name} start`);
      await done;
      log.push(`${name} end`);
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SerialQueues', () => {
  it('runs the tasks of one key one after the other, in call order', async () => {
    const queues = new SerialQueues();
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const results = [queues.run('k', a.task), queues.run('k', b.task)];
    await tick();
    expect(log).toEqual(['a start']);
    b.release();
    await tick();
    expect(log).toEqual(['a start']);
    a.release();
    expect(await Promise.all(results)).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('runs tasks of different keys side by side', async () => {
    const queues = new SerialQueues();
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const results = [queues.run('k1', a.task), queues.run('k2', b.task)];
    await tick();
    expect(log).toEqual(['a start', 'b start']);
    a.release();
    b.release();
    expect(await Promise.all(results)).toEqual(['a', 'b']);
  });

  it('goes on after a failed task, hands the failure to its caller, and forgets idle keys', async () => {
    const queues = new SerialQueues();
    const failed = queues.run('k', () => Promise.reject(new Error('boom')));
    const next = queues.run('k', () => Promise.resolve('next'));
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('next');
    await tick();
    expect(queues.size).toBe(0);
  });
});
