import type { ClientFormat, CredentialKind, ProviderFamily, RouteRequest } from '@cpa/contracts';

/** Decrypted credential material, as stored encrypted in Postgres. */
export interface CredentialSecret {
  apiKey?: string;
  accessToken?: string;
  refreshToken?: string;
  [field: string]: unknown;
}

/** Everything an adapter needs to address one upstream attempt. */
export interface UpstreamCall {
  route: RouteRequest;
  /** Wire format of this call (the adapter's upstreamFormat, or a native format it also speaks). */
  format: ClientFormat;
  /** Model name upstream, without a thinking suffix (that is applied in the body). */
  upstreamModel: string;
  kind: CredentialKind;
  baseUrl: string;
  headers: Record<string, string>;
  secret: CredentialSecret;
}

export interface UpstreamTarget {
  url: string;
  headers: Record<string, string>;
}

/**
 * One provider family's wire details: where requests go and how credentials are
 * injected. Translation between formats is the codecs' job, not the adapter's.
 */
export interface ProviderAdapter {
  readonly family: ProviderFamily;
  /** The API format this family's upstream speaks. */
  readonly upstreamFormat: ClientFormat;
  /** Other client formats the upstream speaks natively (served without translation). */
  readonly nativeFormats?: readonly ClientFormat[];
  /** The upstream only answers with streams: non-streaming clients get the stream aggregated. */
  readonly streamingOnly?: boolean;
  /** The upstream cannot stream: streaming clients get its one answer re-emitted as a stream. */
  readonly streamingUnsupported?: boolean;
  target(call: UpstreamCall, stream: boolean): UpstreamTarget;
}

export function secretToken(secret: CredentialSecret): string {
  const token = secret.apiKey ?? secret.accessToken;
  if (!token) throw new Error('credential has no API key or access token');
  return token;
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
