import { RouteActions } from '@cpa/contracts';
import type { CredentialSecret, ProviderAdapter, UpstreamBody, UpstreamCall } from '../provider-adapter';
import { joinUrl, parseJsonObject, secretToken } from '../provider-adapter';
import { geminiMethod } from './gemini';

export const VERTEX_DEFAULT_LOCATION = 'us-central1';
const VERTEX_GLOBAL_BASE_URL = 'https://aiplatform.googleapis.com';

/** The Vertex AI host of a location: `global` has no regional prefix. */
export function vertexBaseUrl(location: string): string {
  return location === 'global' ? VERTEX_GLOBAL_BASE_URL : `https://${location}-aiplatform.googleapis.com`;
}

const text = (value: unknown) => (typeof value === 'string' ? value.trim() : '');

/** Project and location of a service-account credential: the secret's own fields, else the service account's project. */
export function vertexScope(secret: CredentialSecret): { project: string; location: string } {
  const account = secret.serviceAccount as Record<string, unknown> | undefined;
  return {
    project: text(secret.projectId) || text(account?.project_id),
    location: text(secret.location) || VERTEX_DEFAULT_LOCATION,
  };
}

type Json = Record<string, unknown>;

/** Vertex's countTokens takes the request's fields at the top level (no `generateContentRequest`). */
function flattenCountTokens(body: UpstreamBody): UpstreamBody {
  const json = parseJsonObject(body);
  const inner = json.generateContentRequest as Json | undefined;
  if (!inner || typeof inner !== 'object') return body;
  const { model: _model, safetySettings: _safety, ...fields } = inner;
  return Buffer.from(JSON.stringify(fields));
}

/**
 * Vertex AI. Service accounts (kind oauth; the refresh-worker keeps an access token from a
 * JWT grant in the secret): `{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}`
 * with Bearer, base = the credential's, else VERTEX_BASE_URL, else the location's host.
 * `vertex-api-key` entries (kind api_key): `{base-url | aiplatform}/v1/publishers/google/models/{m}:{method}`
 * with x-goog-api-key. Plain Gemini bodies either way.
 */
export const vertexAdapter: ProviderAdapter = {
  family: 'vertex',
  upstreamFormat: 'gemini',
  target(call: UpstreamCall, stream: boolean) {
    const { action, query } = geminiMethod(call, stream);
    const model = `publishers/google/models/${encodeURIComponent(call.upstreamModel)}:${action}${query}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...call.headers };
    if (call.kind === 'api_key') {
      headers['x-goog-api-key'] = secretToken(call.secret);
      return { url: joinUrl(call.baseUrl || VERTEX_GLOBAL_BASE_URL, `/v1/${model}`), headers };
    }
    const { project, location } = vertexScope(call.secret);
    if (!project) throw new Error('vertex credential has no project id');
    headers.authorization = `Bearer ${secretToken(call.secret)}`;
    const base = call.baseUrl || process.env.VERTEX_BASE_URL?.trim() || vertexBaseUrl(location);
    const path = `/v1/projects/${encodeURIComponent(project)}/locations/${encodeURIComponent(location)}/${model}`;
    return { url: joinUrl(base, path), headers };
  },
  prepareBody(call, body) {
    return call.route.action === RouteActions.countTokens ? flattenCountTokens(body) : body;
  },
};
