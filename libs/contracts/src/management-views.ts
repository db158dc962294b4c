/**
 * What the management API answers on the endpoints the console reads (scripts may read them
 * too): credentials, client keys, audit log, per-request usage, request error logs. Types
 * only, imported only as `@cpa/contracts/management-views`: the admin's services build these
 * answers and the browser console reads them, so the one definition cannot drift from what is
 * sent, and the console's bundle pulls in no Node code (the package's main entry does: request
 * ids use node:crypto). Keep this file free of values.
 */
import type { ClientFormat } from './client-format';
import type { ProviderFamily } from './provider-family';

// GET /credentials

/** A credential's routing state as the console shows it. */
export type CredentialLiveState = 'active' | 'cooling' | 'needs_login' | 'disabled';

export interface CredentialCooldown {
  model: string;
  /** RFC 3339. */
  until: string;
  reason: string;
}

export interface CredentialView {
  id: string;
  auth_index: string;
  label: string;
  family: string;
  kind: 'api-key' | 'oauth';
  source: string;
  email: string;
  disabled: boolean;
  status: CredentialLiveState;
  cooldowns: CredentialCooldown[];
  last_error: string;
  next_refresh_at: string | null;
  priority: number;
  weight: number;
  prefix: string;
  /** The upstream it calls ('' = the provider's default). */
  base_url: string;
  /** Scheme and host only: a proxy URL may carry a password. */
  proxy_url: string;
  /** The token file it came from (its fields are editable with PATCH /auth-files/fields), else null. */
  token_file: string | null;
  requests_today: number;
  tokens_today: number;
}

export interface CredentialList {
  credentials: CredentialView[];
}

// /client-keys

/** A client key as the management API shows it (never the key itself). */
export interface ClientKeyView {
  id: string;
  name: string;
  key_preview: string;
  models: string[];
  rpm_limit: number;
  tpm_limit: number;
  daily_token_budget: number;
  monthly_token_budget: number;
  expires_at: string | null;
  disabled: boolean;
  source: 'management' | 'config';
  created_at: string;
  last_used_at: string | null;
  usage: { requests_today: number; tokens_today: number; tokens_month: number };
}

/** GET /client-keys. */
export interface ClientKeyList {
  'client-keys': ClientKeyView[];
}

/** PATCH /client-keys/:id. */
export interface ClientKeyAnswer {
  'client-key': ClientKeyView;
}

/** POST /client-keys: the key itself, shown this once. */
export interface ClientKeyCreated extends ClientKeyAnswer {
  key: string;
}

// GET /audit-log

/** A recorded detail: flat values only, never a secret (the audit repository refuses both). */
export type AuditValue = string | number | boolean | null | readonly string[];

export interface AuditEntryView {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** The recorded values before the change (`before_<field>` details), or null when none were recorded. */
  before: Record<string, AuditValue> | null;
  /** Every other recorded detail: the state after the change, or facts about it. */
  after: Record<string, AuditValue>;
}

/** Newest first; `next_before_id` is the `before_id` of the next page (null: no more). */
export interface AuditLogPage {
  entries: AuditEntryView[];
  next_before_id: string | null;
}

// GET /usage/requests and /usage/summary

/** One request; ids and names are null when the request had none (or the name is gone). */
export interface UsageRequestView {
  id: string;
  at: string;
  client_key_id: string | null;
  client_key_name: string | null;
  credential_id: string | null;
  credential_label: string | null;
  family: string | null;
  model: string;
  status: number;
  latency_ms: number;
  ttfb_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  attempts: number;
  request_id: string | null;
}

/** Newest first; `next_before_id` is the `before_id` of the next page (null: no more). */
export interface UsageRequestPage {
  requests: UsageRequestView[];
  next_before_id: string | null;
}

export type UsageBucketSize = 'hour' | 'day';

/** Requests (`errors`: those that failed) and tokens, of one bucket or of the whole range. */
export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
}

/** One hour or day; the percentiles are null where the bucket had no request (TTFB: no streamed one). */
export interface UsageSummaryPoint extends UsageTotals {
  start: string;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttfb_p50_ms: number | null;
  ttfb_p95_ms: number | null;
}

export interface UsageSummary {
  bucket: UsageBucketSize;
  /** The first bucket's start (`from` rounded down to the bucket). */
  from: string;
  to: string;
  series: UsageSummaryPoint[];
  totals: UsageTotals;
}

// GET /request-error-logs (CLIProxyAPI's listing) and /request-error-logs/:name?format=json

/**
 * One failed upstream attempt as an executor records it (a capped Redis list the admin
 * reads): the exchange as sent and received, headers redacted, known secrets scrubbed from
 * the bodies, bodies cut at ERROR_LOG_BODY_LIMIT (@cpa/providers).
 */
export interface RequestErrorEntry {
  request_id: string;
  /** When the attempt failed (RFC 3339). */
  time: string;
  client_format: ClientFormat;
  /** The model as the client named it. */
  model: string;
  stream: boolean;
  family: ProviderFamily;
  credential_id: string;
  /** Which attempt of the request this was, from 1. */
  attempt: number;
  /** The upstream's status; 502 when it never answered. */
  status: number;
  /** Why there was no answer (connection refused, timeout). */
  error?: string;
  upstream_request: { method: string; url: string; headers: Record<string, string>; body: string };
  upstream_response?: { status: number; headers: Record<string, string>; body: string };
}

/** One request's failed attempts, as CLIProxyAPI names its files (`error-<route>-<time>-<request id>.log`). */
export interface RequestErrorLogFile {
  name: string;
  request_id: string;
  /** Attempts oldest first. */
  attempts: RequestErrorEntry[];
}

/** CLIProxyAPI's file listing entry, with what this router also knows about the request. */
export interface RequestErrorLogListing {
  name: string;
  size: number;
  /** Unix seconds of the last failed attempt. */
  modified: number;
  request_id: string;
  time: string;
  client_format: ClientFormat;
  model: string;
  status: number;
  attempts: number;
}

export interface RequestErrorLogList {
  files: RequestErrorLogListing[];
}
