import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CredentialStatuses, type CredentialKind } from '@cpa/contracts';
import { SecretBox } from '../crypto/secret-box';
import { ConflictError, NotFoundError } from '../db-errors';
import type { Credential, Prisma } from '../generated/prisma/client';
import { asObject, type JsonObject } from '../json';
import { PrismaService } from '../prisma.service';
import type { DbClient } from '../unit-of-work';

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
    @Inject(PrismaService) private readonly prisma: DbClient,
    private readonly box: SecretBox,
  ) {}

  async list(filter: CredentialFilter = {}): Promise<CredentialRecord[]> {
    const rows = await this.prisma.credential.findMany({ where: whereOf(filter), orderBy: ORDER });
    return rows.map(toRecord);
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

  /** Health bookkeeping; deliberately not versioned so it never races secret rotation. */
  async setStatus(id: string, status: CredentialStatus): Promise<void> {
    const { count } = await this.prisma.credential.updateMany({ where: { id }, data: { ...status } });
    if (count === 0) throw new NotFoundError('credential', id);
  }

  /**
   * The last refresh error alone, unversioned: a refresher writes its status with the
   * versioned update first, and rewriting that status here could undo what another writer
   * did in between (a sibling sharing new tokens reactivates a credential marked needs_login).
   */
  async setLastError(id: string, lastError: string): Promise<void> {
    const { count } = await this.prisma.credential.updateMany({ where: { id }, data: { lastError } });
    if (count === 0) throw new NotFoundError('credential', id);
  }

  /**
   * Mirrors a credential's routing state (Redis is the source of truth). A credential waiting
   * for a new login keeps the status and error the refresh worker gave it: routing state knows
   * nothing of refresh tokens. A credential deleted meanwhile is skipped.
   */
  async mirrorRoutingState(
    id: string,
    state: { modelStates: JsonObject; status: string; statusMessage: string; lastError: string },
  ): Promise<void> {
    const { modelStates, ...status } = state;
    await this.prisma.credential.updateMany({
      where: { id },
      data: { modelStates: modelStates as Prisma.InputJsonValue },
    });
    await this.prisma.credential.updateMany({
      where: { id, status: { not: CredentialStatuses.needsLogin } },
      data: status,
    });
  }

  /** Clears the mirrored per-model states; returns the models that had one, or null for an unknown credential. */
  async clearModelStates(id: string): Promise<string[] | null> {
    const row = await this.prisma.credential.findUnique({ where: { id }, select: { modelStates: true } });
    if (!row) return null;
    await this.prisma.credential.update({ where: { id }, data: { modelStates: {} } });
    return Object.keys(asObject(row.modelStates));
  }

  // Stored rows, secret still sealed: for the config and token-file reconcilers, which compare
  // and write whole rows inside their own transaction (see inTransaction).

  /** One stored row. */
  row(id: string): Promise<Credential | null> {
    return this.prisma.credential.findUnique({ where: { id } });
  }

  /** Every row, by provider then id (the management API's /auth-files list). */
  rows(): Promise<Credential[]> {
    return this.prisma.credential.findMany({ orderBy: [{ provider: 'asc' }, { id: 'asc' }] });
  }

  /** The API-key rows of one key list: a provider family's own keys, or one openai-compatibility provider's. */
  apiKeyRows(scope: { provider: string; providerConfigId: string | null }): Promise<Credential[]> {
    return this.prisma.credential.findMany({ where: { ...scope, kind: 'api_key' } });
  }

  /** The rows imported from the token file `fileName` (attributes.fileName), by id. */
  rowsOfFile(fileName: string): Promise<Credential[]> {
    return this.prisma.credential.findMany({ where: byFileName(fileName), orderBy: { id: 'asc' } });
  }

  /** The rows with one of `ids` or of the token file `fileName`. */
  rowsOfIdsOrFile(ids: readonly string[], fileName: string): Promise<Credential[]> {
    return this.prisma.credential.findMany({ where: { OR: [{ id: { in: [...ids] } }, byFileName(fileName)] } });
  }

  /** The rows whose label or account is `name`. */
  rowsLabelledOrOwned(name: string): Promise<Credential[]> {
    return this.prisma.credential.findMany({ where: { OR: [{ label: name }, { account: name }] } });
  }

  /** Id and attributes of every row (to group them by token file). */
  attributesOfAll(): Promise<{ id: string; attributes: Prisma.JsonValue }[]> {
    return this.prisma.credential.findMany({ select: { id: true, attributes: true } });
  }

  /** The credential `id`, or else the rows of the token file `id`, each with its openai-compatibility provider. */
  rowsWithProviderByIdOrFile(id: string) {
    return this.prisma.credential.findUnique({ where: { id }, include: { providerConfig: true } }).then((row) =>
      row
        ? [row]
        : this.prisma.credential.findMany({
            where: byFileName(id),
            include: { providerConfig: true },
            orderBy: { id: 'asc' },
          }),
    );
  }

  async insertRow(data: Prisma.CredentialUncheckedCreateInput): Promise<void> {
    await this.prisma.credential.create({ data });
  }

  /** Writes columns as given (not version-checked: the caller holds the row's lock or transaction). */
  async updateRow(id: string, data: Prisma.CredentialUncheckedUpdateInput): Promise<void> {
    await this.prisma.credential.update({ where: { id }, data });
  }

  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.prisma.credential.deleteMany({ where: { id: { in: [...ids] } } });
  }

  private sealSecret(secret: CredentialSecret): string {
    return this.box.encryptJson(secret);
  }

  private openSecret(secretEnc: string): CredentialSecret {
    return asObject(this.box.decryptJson(secretEnc));
  }
}

const byFileName = (name: string): Prisma.CredentialWhereInput => ({
  attributes: { path: ['fileName'], equals: name },
});

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
