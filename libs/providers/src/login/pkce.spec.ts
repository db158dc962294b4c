import { describe, expect, it } from 'vitest';
import { createPkce, createState, isPkceVerifier, isValidState, parseRedirect, pkceChallenge } from './pkce';

describe('PKCE S256', () => {
  it('matches RFC 7636 appendix B', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes 128-character verifiers whose challenge is their hash, fresh every time', () => {
    const a = createPkce();
    const b = createPkce();
    expect(a.verifier).toHaveLength(128);
    expect(isPkceVerifier(a.verifier)).toBe(true);
    expect(a.challenge).toBe(pkceChallenge(a.verifier));
    expect(a.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.verifier).not.toBe(a.verifier);
  });

  it('uses the random source it is given', () => {
    const pair = createPkce((size) => Buffer.alloc(size, 1));
    expect(pair.verifier).toBe(Buffer.alloc(96, 1).toString('base64url'));
  });

  it('knows verifiers from RFC 7636 §4.1', () => {
    expect(isPkceVerifier('a'.repeat(42))).toBe(false);
    expect(isPkceVerifier('a'.repeat(129))).toBe(false);
    expect(isPkceVerifier(`${'a'.repeat(42)}~`)).toBe(true);
    expect(isPkceVerifier(`${'a'.repeat(42)}+`)).toBe(false);
  });
});

describe('state', () => {
  it('is 43 unguessable characters valid under CLIProxyAPI rules', () => {
    const state = createState();
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(isValidState(state)).toBe(true);
    expect(createState()).not.toBe(state);
  });

  it('refuses path tricks, odd characters, empty and overlong values', () => {
    for (const bad of ['', 'a/b', 'a\\b', '..', 'a..b', 'a b', 'ä', 'x'.repeat(129), 'a#b'])
      expect(isValidState(bad)).toBe(false);
    for (const good of ['abc', 'kmi-123', 'a.b_c-D', 'x'.repeat(128)]) expect(isValidState(good)).toBe(true);
  });
});

describe('parseRedirect', () => {
  it('reads a whole redirect URL', () => {
    expect(parseRedirect('http://localhost:54545/callback?code=abc&state=xyz')).toEqual({ code: 'abc', state: 'xyz' });
  });

  it('reads a bare query, with or without ?', () => {
    expect(parseRedirect('?code=abc&state=xyz')).toEqual({ code: 'abc', state: 'xyz' });
    expect(parseRedirect('code=abc&state=xyz')).toEqual({ code: 'abc', state: 'xyz' });
  });

  it("splits Claude's code#state, in a bare code and in a query", () => {
    expect(parseRedirect('abc#xyz')).toEqual({ code: 'abc', codeState: 'xyz' });
    expect(parseRedirect(' abc ')).toEqual({ code: 'abc' });
    expect(parseRedirect('http://localhost:54545/callback?code=abc%23xyz&state=xyz')).toEqual({
      code: 'abc',
      codeState: 'xyz',
      state: 'xyz',
    });
  });

  it('reads provider errors, falling back to error_description', () => {
    expect(parseRedirect('http://localhost:1455/auth/callback?error=access_denied&state=s')).toEqual({
      error: 'access_denied',
      state: 's',
    });
    expect(parseRedirect('http://localhost:1455/auth/callback?error_description=nope&state=s')).toEqual({
      error: 'nope',
      state: 's',
    });
  });

  it('gives nothing for empty input and broken URLs', () => {
    expect(parseRedirect('   ')).toEqual({});
    expect(parseRedirect('http://[::1/callback?code=a')).toEqual({});
  });
});
