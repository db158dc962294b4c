/**
 * tools/stack.mjs used as a library (the benchmark, these suites): a process that started a
 * stack and exits without stopping it (a crash, or process.exit on a signal) must take the
 * services along; a killed benchmark once left six of them running for most of an hour.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '@cpa/db/testing';
import { waitFor } from '@cpa/testing';
import { cleanUp } from './stack-fixture';

/** Alive and not a zombie (a killed child stays one until whoever adopted it reaps it). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('tools/stack.mjs', () => {
  it('kills the services of a stack whose starting process exits without stopping it', async () => {
    const database = await createEmptyDatabase('cliproxy_e2e');
    const keyPrefix = `${process.env.TEST_KEY_PREFIX ?? 'test:'}e2e:${process.pid}:orphans:`;
    const stackModule = pathToFileURL(resolve(__dirname, '../tools/stack.mjs')).href;
    const env = { DATABASE_URL: database.url, TRANSPORT_KEY_PREFIX: keyPrefix, PORT: '0', ADMIN_PORT: '0' };
    // Starts a stack, prints its processes, and exits as a crashed or interrupted benchmark would.
    const script = `
      const { startStack } = await import(${JSON.stringify(stackModule)});
      const stack = await startStack({ quiet: true, skipBuild: true, families: ['openai-compat'], env: ${JSON.stringify({ ...env, LOG_LEVEL: 'warn' })} });
      console.log(JSON.stringify(stack.services.map((s) => s.child.pid)));
      process.exit(3);
    `;
    const starter = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    starter.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const code = await new Promise<number | null>((done) => starter.once('exit', done));
    const pids = JSON.parse(printed.trim().split('\n').at(-1) ?? '[]') as number[];
    try {
      expect(code).toBe(3);
      // admin, scheduler, one executor, refresh worker, gateway
      expect(pids).toHaveLength(5);
      await waitFor(() => pids.every((pid) => !running(pid)), 5_000);
    } finally {
      for (const pid of pids.filter(running)) process.kill(pid, 'SIGKILL');
      await cleanUp(database, keyPrefix);
    }
  }, 60_000);
});
