import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { budgetPeriods, ClientKeyLimits, hasTokenLimits } from '@cpa/catalog';
import type { ClientKeyAnswer, ClientKeyCreated, ClientKeyList, ClientKeyView } from '@cpa/contracts/management-views';
import {
  AuditRepository,
  ClientKeyRepository,
  UsageRequestRepository,
  type AuditDetails,
  type ClientKeyRecord,
  type ClientKeySettings,
  type ClientKeyUsage,
} from '@cpa/db';
import { z } from 'zod';
import { BEFORE_PREFIX } from './audit-view';
import { ChangeNotifier } from './change-notifier';
import { notFound } from './management-error';
import { parseItem } from './list-ops';
import { MANAGEMENT_ACTOR, OK } from './management-answer';

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
  models: true,
  rpm_limit: true,
  tpm_limit: true,
  daily_token_budget: true,
  monthly_token_budget: true,
  expires_at: true,
  disabled: true,
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
  name: 'name',
  models: 'models',
  rpm_limit: 'rpmLimit',
  tpm_limit: 'tpmLimit',
  daily_token_budget: 'dailyTokenBudget',
  monthly_token_budget: 'monthlyTokenBudget',
  expires_at: 'expiresAt',
  disabled: 'disabled',
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
 * the gateways read. Usage (today and this month, UTC) comes from the roll-up of every
 * request in Postgres, a second or two behind; the limits count in Redis, and only for
 * keys with a tpm limit or a token budget.
 */
@Injectable()
export class ClientKeysService {
  private readonly logger = new Logger(ClientKeysService.name);

  constructor(
    private readonly keys: ClientKeyRepository,
    private readonly limits: ClientKeyLimits,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
    private readonly requests: UsageRequestRepository,
  ) {}

  async list(): Promise<ClientKeyList> {
    const records = await this.keys.list();
    const usage = await this.usageOf(records.map((r) => r.id));
    return { 'client-keys': records.map((record) => clientKeyView(record, usage.get(record.id))) };
  }

  async create(body: unknown): Promise<ClientKeyCreated> {
    const parsed = parseItem(CreateSchema, body, '');
    const key = `sk-cpa-${randomBytes(24).toString('base64url')}`;
    const record = await this.keys.add(key, { ...settingsOf(parsed), source: 'management' });
    await this.audit.record(MANAGEMENT_ACTOR, 'client-key.create', record.id, auditOf(record));
    await this.notifier.configChanged(['client-keys']);
    return { key, 'client-key': clientKeyView(record) };
  }

  async update(id: string, body: unknown): Promise<ClientKeyAnswer> {
    const parsed = parseItem(PatchSchema, body, '');
    const before = await this.keys.findById(id);
    const record = before && (await this.keys.update(id, settingsOf(parsed)));
    if (!before || !record) throw notFound('client key not found');
    const changed = Object.keys(parsed).map((field) => AUDIT_FIELD[field]!);
    await this.audit.record(MANAGEMENT_ACTOR, 'client-key.update', id, {
      ...auditOf(record),
      ...auditBefore(before, changed),
    });
    const usage = (await this.usageOf([id])).get(id);
    // Before the gateways see the budget: from then on the schedulers charge the key in Redis.
    if (usage && hasTokenLimits(record) && !hasTokenLimits(before)) await this.countSpentSoFar(id, usage);
    await this.notifier.configChanged(['client-keys']);
    return { 'client-key': clientKeyView(record, usage) };
  }

  async remove(id: string): Promise<typeof OK> {
    const record = await this.keys.findById(id);
    if (!record || !(await this.keys.removeById(id))) throw notFound('client key not found');
    await this.audit.record(MANAGEMENT_ACTOR, 'client-key.delete', id, auditBefore(record));
    await this.notifier.configChanged(['client-keys']);
    return OK;
  }

  /** Today's and this month's usage (UTC, the budgets' periods) of each key. */
  private usageOf(ids: string[], now = Date.now()): Promise<Map<string, ClientKeyUsage>> {
    const { day, month } = budgetPeriods(now);
    return this.requests.clientKeyUsage(ids, {
      dayStart: new Date(`${day}T00:00:00Z`),
      monthStart: new Date(`${month}-01T00:00:00Z`),
    });
  }

  /**
   * A key that gets a tpm limit or budget was not charged in Redis until now: its budgets
   * start from what it spent so far today and this month. Without Redis the change still
   * holds, and the budgets count from zero.
   */
  private async countSpentSoFar(id: string, usage: ClientKeyUsage): Promise<void> {
    try {
      await this.limits.raiseSpent(id, { day: usage.tokensToday, month: usage.tokensMonth });
    } catch (err) {
      this.logger.warn(`client key ${id}: earlier usage not counted against its new budget: ${(err as Error).message}`);
    }
  }
}
