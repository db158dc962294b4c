import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ClientKeyLimits, type ClientKeyUsage } from '@cpa/catalog';
import { AuditRepository, ClientKeyRepository, type AuditDetails, type ClientKeyRecord, type ClientKeySettings } from '@cpa/db';
import { z } from 'zod';
import { BEFORE_PREFIX } from './audit-view';
import { ChangeNotifier } from './change-notifier';
import { notFound } from './management-error';
import { parseItem } from './list-ops';
import { OK } from './management.service';

const ACTOR = 'management-api';

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

const Limit = z.number().int().min(0).max(2_147_483_647);
const Budget = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Fields = {
  name: z.string().trim().min(1, 'name must not be empty').max(200),
  models: z.array(z.string().trim().min(1, 'a model pattern must not be empty').max(256)).max(1000),
  rpm_limit: Limit,
  tpm_limit: Limit,
  daily_token_budget: Budget,
  monthly_token_budget: Budget,
  expires_at: z.iso.datetime({ offset: true, error: 'expires_at must be an RFC 3339 time or null' }).nullable(),
  disabled: z.boolean({ error: 'disabled must be true or false' }),
};
const CreateSchema = z.strictObject({ ...Fields }).partial({
  models: true, rpm_limit: true, tpm_limit: true, daily_token_budget: true, monthly_token_budget: true, expires_at: true, disabled: true,
});
const PatchSchema = z
  .strictObject({ ...Fields })
  .partial()
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');

type ClientKeyBody = Partial<z.infer<typeof CreateSchema>>;

/** The body's fields as repository settings (absent fields stay absent). */
function settingsOf(body: ClientKeyBody): ClientKeySettings {
  return {
    ...(body.name !== undefined && { label: body.name }),
    ...(body.models !== undefined && { models: [...new Set(body.models)] }),
    ...(body.rpm_limit !== undefined && { rpmLimit: body.rpm_limit }),
    ...(body.tpm_limit !== undefined && { tpmLimit: body.tpm_limit }),
    ...(body.daily_token_budget !== undefined && { dailyTokenBudget: body.daily_token_budget }),
    ...(body.monthly_token_budget !== undefined && { monthlyTokenBudget: body.monthly_token_budget }),
    ...(body.expires_at !== undefined && { expiresAt: body.expires_at === null ? null : new Date(body.expires_at) }),
    ...(body.disabled !== undefined && { disabled: body.disabled }),
  };
}

/** What the audit log keeps of a key: its settings and preview, never the key. */
function auditOf(record: ClientKeyRecord): AuditDetails {
  return {
    name: record.label,
    keyPreview: record.keyPreview,
    models: record.models,
    rpmLimit: record.rpmLimit,
    tpmLimit: record.tpmLimit,
    dailyTokenBudget: record.dailyTokenBudget,
    monthlyTokenBudget: record.monthlyTokenBudget,
    expiresAt: record.expiresAt?.toISOString() ?? null,
    disabled: record.disabled,
  };
}

/** The audit fields of `record` as the values a change replaced (`before_<field>`), only `fields` when given. */
function auditBefore(record: ClientKeyRecord, fields?: readonly string[]): AuditDetails {
  return Object.fromEntries(
    Object.entries(auditOf(record))
      .filter(([field]) => !fields || fields.includes(field))
      .map(([field, value]) => [`${BEFORE_PREFIX}${field}`, value]),
  );
}

/** Body field -> audit field. */
const AUDIT_FIELD: Record<string, string> = {
  name: 'name', models: 'models', rpm_limit: 'rpmLimit', tpm_limit: 'tpmLimit', daily_token_budget: 'dailyTokenBudget',
  monthly_token_budget: 'monthlyTokenBudget', expires_at: 'expiresAt', disabled: 'disabled',
};

const NO_USAGE: ClientKeyUsage = { requestsToday: 0, tokensToday: 0, tokensMonth: 0, lastUsedAt: null };

export function clientKeyView(record: ClientKeyRecord, usage: ClientKeyUsage = NO_USAGE): ClientKeyView {
  const lastUsed = Math.max(record.lastUsedAt?.getTime() ?? 0, usage.lastUsedAt ?? 0);
  return {
    id: record.id,
    name: record.label,
    key_preview: record.keyPreview,
    models: record.models,
    rpm_limit: record.rpmLimit,
    tpm_limit: record.tpmLimit,
    daily_token_budget: record.dailyTokenBudget,
    monthly_token_budget: record.monthlyTokenBudget,
    expires_at: record.expiresAt?.toISOString() ?? null,
    disabled: record.disabled,
    source: record.source === 'config' ? 'config' : 'management',
    created_at: record.createdAt.toISOString(),
    last_used_at: lastUsed > 0 ? new Date(lastUsed).toISOString() : null,
    usage: { requests_today: usage.requestsToday, tokens_today: usage.tokensToday, tokens_month: usage.tokensMonth },
  };
}

/**
 * `/client-keys`: client keys with names, allowed models, rate limits, token budgets and
 * expiry, beside CLIProxyAPI's plain `/api-keys` list (the same rows). A new key's secret
 * is returned once; Postgres keeps its hash and an encrypted copy (for `/api-keys`). Every
 * change is audited without the key and published in the catalog snapshot, which is all
 * the gateways read. Usage comes from the Redis counters the limits use.
 */
@Injectable()
export class ClientKeysService {
  private readonly logger = new Logger(ClientKeysService.name);

  constructor(
    private readonly keys: ClientKeyRepository,
    private readonly limits: ClientKeyLimits,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async list(): Promise<{ 'client-keys': ClientKeyView[] }> {
    const records = await this.keys.list();
    const usage = await this.usageOf(records.map((r) => r.id));
    return { 'client-keys': records.map((record) => clientKeyView(record, usage.get(record.id))) };
  }

  async create(body: unknown): Promise<{ key: string; 'client-key': ClientKeyView }> {
    const parsed = parseItem(CreateSchema, body, '');
    const key = `sk-cpa-${randomBytes(24).toString('base64url')}`;
    const record = await this.keys.add(key, { ...settingsOf(parsed), source: 'management' });
    await this.audit.record(ACTOR, 'client-key.create', record.id, auditOf(record));
    await this.notifier.configChanged(['client-keys']);
    return { key, 'client-key': clientKeyView(record) };
  }

  async update(id: string, body: unknown): Promise<{ 'client-key': ClientKeyView }> {
    const parsed = parseItem(PatchSchema, body, '');
    const before = await this.keys.findById(id);
    const record = before && (await this.keys.update(id, settingsOf(parsed)));
    if (!before || !record) throw notFound('client key not found');
    const changed = Object.keys(parsed).map((field) => AUDIT_FIELD[field]!);
    await this.audit.record(ACTOR, 'client-key.update', id, { ...auditOf(record), ...auditBefore(before, changed) });
    await this.notifier.configChanged(['client-keys']);
    const usage = await this.usageOf([id]);
    return { 'client-key': clientKeyView(record, usage.get(id)) };
  }

  async remove(id: string): Promise<typeof OK> {
    const record = await this.keys.findById(id);
    if (!record || !(await this.keys.removeById(id))) throw notFound('client key not found');
    await this.audit.record(ACTOR, 'client-key.delete', id, auditBefore(record));
    await this.notifier.configChanged(['client-keys']);
    return OK;
  }

  /** Counters live in Redis: while it is away the keys are still listed, with zero usage. */
  private async usageOf(ids: string[]): Promise<Map<string, ClientKeyUsage>> {
    try {
      return await this.limits.usage(ids);
    } catch (err) {
      this.logger.warn(`client key usage unavailable: ${(err as Error).message}`);
      return new Map();
    }
  }
}
