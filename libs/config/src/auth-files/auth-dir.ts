import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { UnitOfWork } from '@cpa/db';
import type { SecretCipher } from '../store';
import { saveAuthFile, type AuthFileOutcome } from './auth-file-store';
import { parseTokenFile, TokenFileError } from './token-file';

/** `~` and `~/...` name the user's home directory, as in CLIProxyAPI's auth-dir. */
export function expandHome(path: string, home = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(home, path.slice(2));
  return path;
}

/**
 * The auth directory: AUTH_DIR wins over config.yaml's `auth-dir`; `~` is expanded and a
 * relative path is taken from `cwd`. Undefined when neither is set (nothing is imported).
 */
export function resolveAuthDir(
  envValue: string | undefined,
  configValue: string | undefined,
  cwd = process.cwd(),
  home = homedir(),
): string | undefined {
  const chosen = envValue?.trim() || configValue?.trim();
  return chosen ? resolve(cwd, expandHome(chosen, home)) : undefined;
}

/** The token files a path names: a file itself, or the *.json files directly inside a directory (sorted). */
export async function tokenFilePaths(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.json'))
    .map((e) => join(path, e.name))
    .sort();
}

export interface AuthFileImportResult {
  name: string;
  outcome: AuthFileOutcome | 'error';
  credentialIds: string[];
  removedIds: string[];
  /** Why the file was refused (names the file and field, never a value). */
  error?: string;
  /** The unexpected error behind a failure to store the file (for the caller's log, not for clients). */
  cause?: unknown;
}

/** Parses and stores one token file in its own transaction; a bad file becomes an error result, not an exception. */
export async function importTokenFile(
  uow: UnitOfWork,
  box: SecretCipher,
  name: string,
  content: string | Buffer,
  source: string,
): Promise<AuthFileImportResult> {
  try {
    const drafts = parseTokenFile(name, content);
    return await saveAuthFile(uow, box, drafts, source);
  } catch (err) {
    if (err instanceof TokenFileError)
      return { name, outcome: 'error', credentialIds: [], removedIds: [], error: err.reason };
    // A database failure rolled the file's transaction back. Its message could quote stored
    // values, so only its code travels; the caller may log the error itself.
    const code = (err as { code?: unknown }).code;
    return {
      name,
      outcome: 'error',
      credentialIds: [],
      removedIds: [],
      error: `could not store the file (${typeof code === 'string' ? code : 'database error'})`,
      cause: err,
    };
  }
}

/** Imports every token file a path names (file or directory); unreadable files are reported, not fatal. */
export async function importTokenFiles(
  uow: UnitOfWork,
  box: SecretCipher,
  path: string,
  source: string,
): Promise<AuthFileImportResult[]> {
  const results: AuthFileImportResult[] = [];
  for (const file of await tokenFilePaths(path)) {
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (err) {
      results.push({
        name: basename(file),
        outcome: 'error',
        credentialIds: [],
        removedIds: [],
        error: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      });
      continue;
    }
    results.push(await importTokenFile(uow, box, basename(file), content, source));
  }
  return results;
}
