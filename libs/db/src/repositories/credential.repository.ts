import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CredentialStatuses, type CredentialKind } from '@cpa/contracts';
import { SecretBox } from '../crypto/secret-box';
import { ConflictError, NotFoundError } from '../errors';
import type { Credential, Prisma } from '../generated/prisma/client';
import { asObject, jsonEqual, type JsonObject } from '../json';
import { PrismaService } from '../prisma.service';

/**
 * The decrypted secret of a credential, a JSON object. API-key credentials use
 * `{ apiKey }`; OAuth credentials hold their tokens (`accessToken`, `refreshToken`, ...).
 */
export type CredentialSecret = JsonObject;
export interface ApiKeySecret extends CredentialSecret {
  apiKey: string;
}

/** A credential without its secret (read the secret with getSecret). */
export interface CredentialRecord {
  id: string;
  provider: string;
  kind: CredentialKind;
  label: string;
  account: string;
  prefix: string;
  priority: number;
  weight: number;
  disabled: boolean;
  baseUrl: string;
  proxyUrl: string;
  providerConfigId: string | null;
  attributes: JsonObject;
  source: string;
  expiresAt: Date | null;
  lastRefreshAt: Date | null;
  nextRefreshAt: Date | null;
  version: number;
  status: string;
  statusMessage: string;
  lastError: string;
  modelStates: JsonObject;
  createdAt: Date;
  updatedAt: Date;
}

export interface CredentialWithSecret extends CredentialRecord {
  secret: CredentialSecret;
}

/** Fields a caller may set; everything but provider, kind and secret has a default. */
export interface CredentialFields {
  provider: string;
  kind: CredentialKind;
  label?: string;
  account?: string;
  prefix?: string;
  priority?: number;
  weight?: number;
  disabled?: boolean;
  baseUrl?: string;
  proxyUrl?: string;
  providerConfigId?: string | null;
  attributes?: JsonObject;
  source?: string;
  expiresAt?: Date | null;
  lastRefreshAt?: Date | null;
  nextRefreshAt?: Date | null;
  status?: string;
  statusMessage?: string;
}

export interface CredentialInput extends CredentialFields {
  /** Generated (UUID) when absent. */
  id?: string;
  secret: CredentialSecret;
}

export type CredentialPatch = Partial<Omit<CredentialFields, 'provider' | 'kind'>> & {
  secret?: CredentialSecret;
};

export interface CredentialFilter {
  provider?: string;
  providerConfigId?: string | null;
  source?: string;
}

export interface UpsertResult {
  credential: CredentialRecord;
  created: boolean;
  /** False when the stored credential already matched the input (nothing was written). */
  changed: boolean;
}

export interface CredentialStatus {
  status: string;
  statusMessage?: string;
  lastError?: string;
}

const ORDER: Prisma.CredentialOrderByWithRelationInput[] = [{ priority: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }];

/** Credentials with their secrets encrypted at rest; reads never expose `secretEnc`. */
@Injectable()
export class CredentialRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly box: SecretBox,
  ) {}

  async list(filter: CredentialFilter = {}): Promise<CredentialRecord[]> {
    const rows = await this.prisma.credential.findMany({ where: whereOf(filter), orderBy: ORDER });
    return rows.map(toRecord);
  }

  listByProvider(provider: string): Promise<CredentialRecord[]> {
    return this.list({ provider });
  }

  /** For executors and refresh workers, which need the secrets of many credentials at once. */
  async listWithSecrets(filter: CredentialFilter = {}): Promise<CredentialWithSecret[]> {
    const rows = await this.prisma.credential.findMany({ where: whereOf(filter), orderBy: ORDER });
    return rows.map((row) => ({ ...toRecord(row), secret: this.openSecret(row.secretEnc) }));
  }

  async get(id: string): Promise<CredentialRecord | null> {
    const row = await this.prisma.credential.findUnique({ where: { id } });
    return row ? toRecord(row) : null;
  }

  async getSecret(id: string): Promise<CredentialSecret | null> {
    const row = await this.prisma.credential.findUnique({ where: { id }, select: { secretEnc: true } });
    return row ? this.openSecret(row.secretEnc) : null;
  }

  async create(input: CredentialInput): Promise<CredentialRecord> {
    const { id, secret, ...fields } = input;
    const row = await this.prisma.credential.create({
      data: {
        ...(dataOf(fields) as Partial<Prisma.CredentialUncheckedCreateInput>),
        id: id ?? randomUUID(),
        provider: fields.provider,
        kind: fields.kind,
        secretEnc: this.sealSecret(secret),
      },
    });
    return toRecord(row);
  }

  /**
   * Creates the credential, or brings an existing one (same id) in line with the input.
   * Writes, and bumps the version, only when something differs, so re-importing the same
   * configuration is a no-op.
   */
  async upsert(input: CredentialInput & { id: string }): Promise<UpsertResult> {
    const existing = await this.prisma.credential.findUnique({ where: { id: input.id } });
    if (!existing) {
      try {
        return { credential: await this.create(input), created: true, changed: true };
      } catch (error) {
        if (prismaCode(error) !== 'P2002') throw error;
        return this.upsert(input); // a concurrent importer created it first
      }
    }
    const { id, secret, ...fields } = input;
    if (!this.differs(existing, { ...fields, secret })) {
      return { credential: toRecord(existing), created: false, changed: false };
    }
    const credential = await this.write(id, existing.version, fields, secret);
    return { credential, created: false, changed: true };
  }

  /**
   * Optimistic-lock update: succeeds only if the stored version is still `expectedVersion`,
   * and bumps it. Throws ConflictError when someone else wrote in between.
   */
  async update(id: string, expectedVersion: number, patch: CredentialPatch): Promise<CredentialRecord> {
    const { secret, ...fields } = patch;
    return this.write(id, expectedVersion, fields, secret);
  }

  private async write(
    id: string,
    expectedVersion: number,
    fields: Partial<CredentialFields>,
    secret: CredentialSecret | undefined,
  ): Promise<CredentialRecord> {
    const data: Prisma.CredentialUncheckedUpdateInput = {
      ...(dataOf(fields) as Prisma.CredentialUncheckedUpdateInput),
      version: { increment: 1 },
    };
    if (secret !== undefined) data.secretEnc = this.sealSecret(secret);
    let written: Credential;
    try {
      written = await this.prisma.credential.update({ where: { id, version: expectedVersion }, data });
    } catch (error) {
      if (prismaCode(error) !== 'P2025') throw error;
      return this.conflictOrMissing(id, expectedVersion);
    }
    if (secret !== undefined && fields.status === undefined && written.status === CredentialStatuses.needsLogin) {
      // A new secret (re-import, new login) ends the wait for a login; the writer of a
      // refused refresh sets the status itself and writes no secret.
      const reset = { status: CredentialStatuses.active, statusMessage: '', lastError: '', nextRefreshAt: null };
      await this.prisma.credential.updateMany({ where: { id, status: CredentialStatuses.needsLogin }, data: reset });
      written = { ...written, ...reset };
    }
    return toRecord(written);
  }

  private async conflictOrMissing(id: string, expectedVersion: number): Promise<never> {
    const current = await this.prisma.credential.findUnique({ where: { id }, select: { version: true } });
    if (!current) throw new NotFoundError('credential', id);
    throw new ConflictError('credential', id, expectedVersion, current.version);
  }

  async delete(id: string): Promise<boolean> {
    const { count } = await this.prisma.credential.deleteMany({ where: { id } });
    return count > 0;
  }

  /** Health bookkeeping; deliberately not versioned so it never races secret rotation. */
  async setStatus(id: string, status: CredentialStatus): Promise<void> {
    const { count } = await this.prisma.credential.updateMany({ where: { id }, data: { ...status } });
    if (count === 0) throw new NotFoundError('credential', id);
  }

  /** Mirrors the scheduler's per-model states (Redis is the source of truth). */
  async mirrorModelStates(id: string, modelStates: JsonObject): Promise<void> {
    const { count } = await this.prisma.credential.updateMany({
      where: { id },
      data: { modelStates: modelStates as Prisma.InputJsonValue },
    });
    if (count === 0) throw new NotFoundError('credential', id);
  }

  private sealSecret(secret: CredentialSecret): string {
    return this.box.encryptJson(secret);
  }

  private openSecret(secretEnc: string): CredentialSecret {
    return asObject(this.box.decryptJson(secretEnc));
  }

  private differs(row: Credential, patch: Partial<CredentialFields> & { secret?: CredentialSecret }): boolean {
    const { secret, ...fields } = patch;
    if (secret !== undefined && !jsonEqual(this.openSecret(row.secretEnc), secret)) return true;
    const current = toRecord(row) as unknown as Record<string, unknown>;
    return Object.entries(fields).some(([key, value]) => {
      if (value === undefined) return false;
      const stored = current[key];
      if (value instanceof Date || stored instanceof Date) {
        return (value instanceof Date ? value.getTime() : value) !== (stored instanceof Date ? stored.getTime() : stored);
      }
      return !jsonEqual(stored, value);
    });
  }
}

function whereOf(filter: CredentialFilter): Prisma.CredentialWhereInput {
  const where: Prisma.CredentialWhereInput = {};
  if (filter.provider !== undefined) where.provider = filter.provider;
  if (filter.providerConfigId !== undefined) where.providerConfigId = filter.providerConfigId;
  if (filter.source !== undefined) where.source = filter.source;
  return where;
}

/** Only defined fields, with JSON columns typed for Prisma. */
function dataOf(fields: Partial<CredentialFields>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export function prismaCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;
}

export function toRecord(row: Credential): CredentialRecord {
  return {
    id: row.id,
    provider: row.provider,
    kind: row.kind,
    label: row.label,
    account: row.account,
    prefix: row.prefix,
    priority: row.priority,
    weight: row.weight,
    disabled: row.disabled,
    baseUrl: row.baseUrl,
    proxyUrl: row.proxyUrl,
    providerConfigId: row.providerConfigId,
    attributes: asObject(row.attributes),
    source: row.source,
    expiresAt: row.expiresAt,
    lastRefreshAt: row.lastRefreshAt,
    nextRefreshAt: row.nextRefreshAt,
    version: row.version,
    status: row.status,
    statusMessage: row.statusMessage,
    lastError: row.lastError,
    modelStates: asObject(row.modelStates),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
