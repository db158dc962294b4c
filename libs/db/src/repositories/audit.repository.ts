import { Injectable } from '@nestjs/common';
import type { AuditValue } from '@cpa/contracts/management-views';
import { PrismaService } from '../prisma.service';

/**
 * Audit details are flat, non-secret facts (names, ids, counts, previews). The type rules
 * out nested payloads, and field names that denote secrets are rejected at run time, so a
 * caller cannot pass a request body or credential through by accident.
 */
export type AuditDetails = Readonly<Record<string, AuditValue>>;

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  details: Record<string, AuditValue>;
}

/** Last word of a camelCase / snake_case / kebab-case field name that marks it as secret. */
const SECRET_WORDS = new Set([
  'secret',
  'token',
  'password',
  'passphrase',
  'authorization',
  'cookie',
  'apikey',
  'verifier',
]);
/** `...Key` is secret after these words (apiKey, clientKey, managementKey); `settingKey` is not. */
const SECRET_KEY_QUALIFIERS = new Set(['api', 'client', 'secret', 'private', 'access', 'management', 'encryption']);

function isSecretFieldName(field: string): boolean {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[\s_.-]+/)
    .filter(Boolean);
  const last = words[words.length - 1] ?? '';
  if (SECRET_WORDS.has(last)) return true;
  return last === 'key' && SECRET_KEY_QUALIFIERS.has(words[words.length - 2] ?? '');
}

export class AuditSecretError extends Error {
  override readonly name = 'AuditSecretError';
}

export function assertNoSecretFields(details: AuditDetails): void {
  for (const [field, value] of Object.entries(details)) {
    if (isSecretFieldName(field)) {
      throw new AuditSecretError(`audit detail "${field}" looks like a secret; record a preview or an id instead`);
    }
    const flat = value === null || ['string', 'number', 'boolean'].includes(typeof value);
    if (!flat && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) {
      throw new AuditSecretError(`audit detail "${field}" must be a string, number, boolean, null or string[]`);
    }
  }
}

@Injectable()
export class AuditRepository {
  constructor(private readonly prisma: PrismaService) {}

  async record(actor: string, action: string, target: string, details: AuditDetails = {}): Promise<void> {
    assertNoSecretFields(details);
    await this.prisma.auditLog.create({ data: { actor, action, target, details: { ...details } } });
  }

  /** Newest first; `before` pages backwards by id. */
  async list(options: { limit?: number; before?: string } = {}): Promise<AuditEntry[]> {
    const rows = await this.prisma.auditLog.findMany({
      where: options.before !== undefined ? { id: { lt: BigInt(options.before) } } : {},
      orderBy: { id: 'desc' },
      take: Math.min(Math.max(options.limit ?? 100, 1), 1000),
    });
    return rows.map((row) => ({
      id: row.id.toString(),
      at: row.at,
      actor: row.actor,
      action: row.action,
      target: row.target,
      details: row.details as Record<string, AuditValue>,
    }));
  }
}
