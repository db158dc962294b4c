// Shapes of the management API answers the console reads (docs: contracts in README).

export type CredentialStatus = 'active' | 'cooling' | 'needs_login' | 'disabled';

export interface Credential {
  id: string;
  auth_index: string;
  label: string;
  family: string;
  kind: 'api-key' | 'oauth';
  source: string;
  email: string;
  disabled: boolean;
  status: CredentialStatus;
  cooldowns: { model: string; until: string; reason: string }[];
  last_error: string;
  next_refresh_at: string | null;
  priority: number;
  weight: number;
  prefix: string;
  base_url?: string;
  proxy_url: string;
  token_file?: string | null;
  requests_today: number;
  tokens_today: number;
}

export interface ClientKey {
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

export interface UsageRequest {
  id: string;
  at: string;
  client_key_id: string | null;
  client_key_name: string | null;
  credential_id: string | null;
  credential_label: string | null;
  family: string;
  model: string;
  status: number;
  latency_ms: number;
  ttfb_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  attempts: number;
}

export interface UsageBucket {
  start: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttfb_p50_ms: number | null;
  ttfb_p95_ms: number | null;
}

export interface UsageSummary {
  bucket: 'hour' | 'day';
  series: UsageBucket[];
  totals: { requests: number; errors: number; input_tokens: number; output_tokens: number; cached_tokens: number; reasoning_tokens: number };
}

export type AuditValue = string | number | boolean | null | string[];

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  before: Record<string, AuditValue> | null;
  after: Record<string, AuditValue> | null;
}
