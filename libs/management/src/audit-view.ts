import type { AuditEntryView, AuditValue } from '@cpa/contracts/management-views';
import type { AuditEntry } from '@cpa/db';

/** Detail fields recorded as `before_<field>` hold the value the change replaced. */
export const BEFORE_PREFIX = 'before_';

/**
 * Splits an entry's flat details into before and after. The audit repository already
 * refuses secret-named fields and nested values, so nothing here can carry a secret.
 */
export function auditEntryView(entry: AuditEntry): AuditEntryView {
  const before: Record<string, AuditValue> = {};
  const after: Record<string, AuditValue> = {};
  for (const [field, value] of Object.entries(entry.details ?? {})) {
    if (field.startsWith(BEFORE_PREFIX) && field.length > BEFORE_PREFIX.length)
      before[field.slice(BEFORE_PREFIX.length)] = value;
    else after[field] = value;
  }
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    before: Object.keys(before).length ? before : null,
    after,
  };
}
