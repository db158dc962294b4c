/**
 * What login e2e suites do as an operator would: management calls on a chosen gateway pod,
 * the browser's trip through a mock authorize page, leaving one login of a provider enabled,
 * and `npm run login` as a real process against a running stack.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import type { MockAuthorizationServer } from '@cpa/testing';
import { MANAGEMENT_SECRET, type RunningStack } from './stack-fixture';

const ROOT = resolve(__dirname, '..');

/** A management call on a chosen gateway pod. */
export async function management(
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v0/management${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${MANAGEMENT_SECRET}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What the operator's browser does with the authorize URL: the Location the provider sends it back to. */
export async function signIn(auth: MockAuthorizationServer, url: string): Promise<URL> {
  const { location, error } = await auth.authorize(url);
  if (!location) throw new Error(`authorize refused: ${error}`);
  return new URL(location);
}

/** Leaves only this credential of its provider enabled, so requests must be served by it. */
export async function onlyEnabled(stack: RunningStack, authIndex: string, provider: string): Promise<void> {
  const { body } = await management(stack.url, '/auth-files');
  for (const file of body.files as { auth_index: string; provider?: string; type?: string }[]) {
    if ((file.provider ?? file.type) !== provider) continue;
    const res = await management(stack.url, '/auth-files/status', {
      method: 'PATCH',
      body: JSON.stringify({ auth_index: file.auth_index, disabled: file.auth_index !== authIndex }),
    });
    expect(res.status).toBe(200);
  }
}

/** A stored login as the token file CLIProxyAPI would have written. */
export async function downloadAuthFile(stack: RunningStack, name: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.url}/v0/management/auth-files/download?name=${encodeURIComponent(name)}`, {
    headers: { authorization: `Bearer ${MANAGEMENT_SECRET}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

export interface LoginRun {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<number | null>;
}

/** `npm run login -- <args>` as an operator runs it, against the stack's database and Redis. */
export function runLoginCommand(stack: RunningStack, args: string[], env: Record<string, string> = {}): LoginRun {
  const build = process.env.E2E_BUILD ? [] : ['--no-build'];
  const child = spawn('npm', ['run', '--silent', 'login', '--', ...build, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TRANSPORT_KEY_PREFIX: stack.keyPrefix,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, output: () => output, exit };
}

export const printedAuthIndex = (output: string): string | undefined => /^auth_index: (\S+)$/m.exec(output)?.[1];
