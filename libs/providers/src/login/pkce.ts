import { createHash, randomBytes } from 'node:crypto';

/**
 * PKCE (RFC 7636, S256 only) and OAuth `state` values for logins. Pure apart from the random
 * source; nothing here does I/O.
 */

export interface PkcePair {
  /** The secret kept by us until the token exchange. */
  verifier: string;
  /** BASE64URL(SHA256(verifier)), sent in the authorize URL. */
  challenge: string;
}

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** The S256 challenge of a verifier. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export const isPkceVerifier = (value: string): boolean => VERIFIER.test(value);

/** A fresh verifier (96 random bytes = 128 base64url characters, as CLIProxyAPI and Claude Code make them) and its challenge. */
export function createPkce(random: (size: number) => Buffer = randomBytes): PkcePair {
  const verifier = random(96).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier) };
}

/** A state is at most 128 characters of `[A-Za-z0-9_.-]` without `..` (CLIProxyAPI's ValidateOAuthState). */
const STATE = /^[A-Za-z0-9_.-]{1,128}$/;

export function isValidState(state: string): boolean {
  return STATE.test(state) && !state.includes('..');
}

/** 32 random bytes as base64url: 43 characters, unguessable, valid under isValidState. */
export function createState(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString('base64url');
}

/** What an authorization redirect (or a pasted code) carried. */
export interface RedirectParams {
  code?: string;
  state?: string;
  error?: string;
  /** The state a code carried after `#` (Claude); the caller checks it against `state`. */
  codeState?: string;
}

const trimmed = (value: string | null | undefined): string | undefined => (value?.trim() ? value.trim() : undefined);

/**
 * Reads what an operator pasted or a browser was sent back with: a whole redirect URL
 * (`http://localhost:54545/callback?code=..&state=..`), just its query (`?code=..&state=..` or
 * `code=..&state=..`), or a bare code as Claude's page shows it (`<code>#<state>`).
 * `error` falls back to `error_description`, as CLIProxyAPI reads it.
 */
export function parseRedirect(input: string): RedirectParams {
  const text = input.trim();
  if (!text) return {};
  let query: URLSearchParams;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return {};
    }
    query = url.searchParams;
  } else if (text.startsWith('?') || /^(code|state|error)=/.test(text)) {
    query = new URLSearchParams(text.replace(/^\?/, ''));
  } else {
    return splitCode({ code: text });
  }
  return splitCode({
    code: trimmed(query.get('code')),
    state: trimmed(query.get('state')),
    error: trimmed(query.get('error')) ?? trimmed(query.get('error_description')),
  });
}

/** Claude may hand back `code#state`: the code is the part before `#`, the rest goes to `codeState`. */
export function splitCode(params: RedirectParams): RedirectParams {
  const out: RedirectParams = {};
  if (params.code !== undefined) {
    const hash = params.code.indexOf('#');
    const code = trimmed(hash === -1 ? params.code : params.code.slice(0, hash));
    const codeState = hash === -1 ? undefined : trimmed(params.code.slice(hash + 1));
    if (code) out.code = code;
    if (codeState) out.codeState = codeState;
  }
  const state = trimmed(params.state);
  if (state) out.state = state;
  const error = trimmed(params.error);
  if (error) out.error = error;
  return out;
}
