import { z } from 'zod';

/**
 * How a `proxy-url` value reads, as CLIProxyAPI's proxyutil.Parse: empty inherits the next
 * level (a credential's empty proxy uses the global one; an empty global means no proxy),
 * `direct` or `none` bypasses every proxy, anything else must be an http, https, socks5 or
 * socks5h URL with a host.
 */
export type ProxySetting = { mode: 'inherit' } | { mode: 'direct' } | { mode: 'proxy'; url: URL };

export const PROXY_SCHEMES = ['http:', 'https:', 'socks5:', 'socks5h:'] as const;

/** A proxy URL that cannot be used. The message never quotes the URL: it may carry a password. */
export class InvalidProxyUrlError extends Error {
  override readonly name = 'InvalidProxyUrlError';
}

/** Parses one proxy setting; throws InvalidProxyUrlError. Non-string values (unset settings) inherit. */
export function parseProxySetting(raw: unknown): ProxySetting {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (text === '') return { mode: 'inherit' };
  const lower = text.toLowerCase();
  if (lower === 'direct' || lower === 'none') return { mode: 'direct' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidProxyUrlError('invalid proxy URL: not a URL');
  }
  if (!(PROXY_SCHEMES as readonly string[]).includes(url.protocol)) {
    throw new InvalidProxyUrlError(
      `invalid proxy URL: unsupported scheme ${url.protocol.slice(0, 16)} (use http, https, socks5 or socks5h)`,
    );
  }
  if (url.hostname === '') throw new InvalidProxyUrlError('invalid proxy URL: missing host');
  return { mode: 'proxy', url };
}

/**
 * The proxy an upstream call of a credential goes through: the credential's own
 * `proxy_url` wins over the global `proxy-url`; `direct`/`none` at either level means no
 * proxy. Returns the proxy URL, or undefined for a direct connection. Throws
 * InvalidProxyUrlError for an unusable value rather than silently connecting directly.
 */
export function effectiveProxyUrl(credentialProxyUrl: unknown, globalProxyUrl: unknown): string | undefined {
  for (const raw of [credentialProxyUrl, globalProxyUrl]) {
    const setting = parseProxySetting(raw);
    if (setting.mode === 'direct') return undefined;
    if (setting.mode === 'proxy') return setting.url.href;
  }
  return undefined;
}

/** A proxy setting fit for logs and audit: scheme, host and port, never user or password. */
export function redactProxyUrl(raw: unknown): string {
  try {
    const setting = parseProxySetting(raw);
    if (setting.mode === 'proxy') return `${setting.url.protocol}//${setting.url.host}`;
    return setting.mode === 'direct' ? 'direct' : '';
  } catch {
    return '[invalid proxy URL]';
  }
}

/** A `proxy-url` value in config.yaml or the management API (trimmed; empty allowed). */
export const ProxyUrlSchema = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    try {
      parseProxySetting(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
