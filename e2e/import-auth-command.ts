/**
 * `npm run import-auth` as an operator runs it: a real process in the repository, against the
 * database and transport prefix given in `env`, with its output collected.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

export interface ImportAuthRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run import-auth -- <args>`; skips the build unless E2E_BUILD is set (the suite runs the built code). */
export function runImportAuth(env: Record<string, string>, ...args: string[]): Promise<ImportAuthRun> {
  const build = process.env.E2E_BUILD ? [] : ['--no-build'];
  const child = spawn('npm', ['run', '--silent', 'import-auth', '--', ...build, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The per-file lines of its output (`created`, `updated`, `unchanged`, `error`). */
export const importAuthLines = (stdout: string) =>
  stdout.split('\n').filter((line) => /^(created|updated|unchanged|error) /.test(line));
