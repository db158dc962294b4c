import { Injectable } from '@nestjs/common';
import { AuditRepository, CredentialRepository, UsageRepository, utcDay } from '@cpa/db';
import type { AuditLogPage, CredentialList } from '@cpa/contracts/management-views';
import { z } from 'zod';
import { auditEntryView } from './audit-view';
import { credentialView, usageByCredential } from './credential-view';
import { parseItem } from './list-ops';

const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before_id: z
    .string()
    .regex(/^\d{1,18}$/, 'before_id must be an entry id')
    .optional(),
});

/**
 * The read models of the console that CLIProxyAPI's endpoints do not give: every
 * credential with its live state and today's usage, and the audit log.
 */
@Injectable()
export class ConsoleViewsService {
  constructor(
    private readonly credentials: CredentialRepository,
    private readonly usage: UsageRepository,
    private readonly audit: AuditRepository,
  ) {}

  /** The states come from the admin's Postgres mirror of the routing state (a few seconds behind Redis). */
  async listCredentials(now = Date.now()): Promise<CredentialList> {
    const today = utcDay(new Date(now));
    const [rows, usage] = await Promise.all([this.credentials.list(), this.usage.query({ from: today, to: today })]);
    const totals = usageByCredential(usage);
    return { credentials: rows.map((row) => credentialView(row, totals.get(row.id), now)) };
  }

  /** Newest first, `limit` entries before `before_id`. */
  async listAuditLog(query: unknown): Promise<AuditLogPage> {
    const { limit, before_id: before } = parseItem(AuditQuerySchema, query ?? {}, '');
    const entries = await this.audit.list({ limit: limit + 1, before });
    const page = entries.slice(0, limit);
    return {
      entries: page.map(auditEntryView),
      next_before_id: entries.length > limit ? page[page.length - 1].id : null,
    };
  }
}
