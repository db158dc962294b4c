/**
 * What must never reach a log line or a stored error exchange: the headers clients and
 * upstreams carry keys and tokens in, and the query parameters keys travel in.
 */
export const SECRET_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-goog-api-key',
  'x-management-key',
  'cookie',
  'set-cookie',
];

export const REDACTED = '[Redacted]';

/** Header names that look like they carry a credential even when not in SECRET_HEADERS (e.g. `x-iflow-signature`). */
const SECRET_LOOKING_HEADER = /(^|-)(key|token|secret|signature|auth|session-key)(-|$)/i;

/**
 * Query parameters that carry client keys (`?key=` Gemini style, `?auth_token=`), tokens,
 * or an OAuth login in flight (the authorization `code` and its `state` on login callbacks).
 */
const SECRET_QUERY =
  /([?&](?:key|auth_token|api_key|access_token|refresh_token|id_token|token|code|code_verifier|state|client_secret|password)=)[^&#]*/gi;

/** A URL as it may be logged: the values of secret-bearing query parameters replaced. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, `$1${REDACTED}`);
}

/** A copy of `headers` with every credential-bearing value replaced (names kept: a reader sees what was sent). */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] =
      SECRET_HEADERS.includes(lower) || SECRET_LOOKING_HEADER.test(lower)
        ? REDACTED
        : Array.isArray(value)
          ? value.join(', ')
          : value;
  }
  return out;
}

/** `text` with every occurrence of the given secrets replaced (an upstream may echo a key in its error). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  return out;
}
