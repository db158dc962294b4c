/**
 * How long the upstream asked us to wait, in ms: the Retry-After header (seconds or an
 * HTTP date) or, for Google APIs, RetryInfo.retryDelay ("7s", "1.5s") in the error body.
 */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now = Date.now(),
): number | undefined {
  const header = headers['retry-after'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value) {
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const match = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(body);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}
