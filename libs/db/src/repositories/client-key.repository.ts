import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { hashClientKey, keyPreview } from '../crypto/client-key';
import { SecretBox } from '../crypto/secret-box';
import type { ClientApiKey } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import { prismaCode } from './credential.repository';

/** What the gateway needs to admit a request. */
export interface ClientKeyIdentity {
  id: string;
  label: string;
  rpmLimit: number;
}

/** What a client key may do beyond being valid (0 = unlimited; empty models = every model). */
export interface ClientKeyLimits {
  models: string[];
  rpmLimit: number;
  tpmLimit: number;
  dailyTokenBudget: number;
  monthlyTokenBudget: number;
  expiresAt: Date | null;
}

/** A client key as the management API lists it (decrypted, like CLIProxyAPI's api-keys). */
export interface ClientKeyRecord extends ClientKeyIdentity, ClientKeyLimits {
  key: string;
  keyPreview: string;
  position: number;
  disabled: boolean;
  source: string;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** The columns an operator may set on a key (all optional: absent ones keep their value or default). */
export type ClientKeySettings = Partial<ClientKeyLimits> & { label?: string; disabled?: boolean };

export interface ClientKeyOptions extends ClientKeySettings {
  source?: string;
}

/**
 * Client API keys: looked up by SHA-256 hash on the hot path, and also kept encrypted so
 * the management API can show them back as CLIProxyAPI does.
 */
@Injectable()
export class ClientKeyRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly box: SecretBox,
  ) {}

  async findActiveByKey(key: string): Promise<ClientKeyIdentity | null> {
    const row = await this.prisma.clientApiKey.findUnique({
      where: { keyHash: hashClientKey(key) },
      select: { id: true, label: true, rpmLimit: true, disabled: true },
    });
    if (!row || row.disabled) return null;
    return { id: row.id, label: row.label, rpmLimit: row.rpmLimit };
  }

  async list(): Promise<ClientKeyRecord[]> {
    const rows = await this.prisma.clientApiKey.findMany({ orderBy: [{ position: 'asc' }, { createdAt: 'asc' }] });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Makes the stored keys exactly `keys`, in that order. Keys already present keep their id
   * (and label, limits, usage history); duplicates and empty strings are dropped.
   */
  async replaceAll(keys: readonly string[], options: Pick<ClientKeyOptions, 'source'> = {}): Promise<ClientKeyRecord[]> {
    const wanted = [...new Set(keys.filter((key) => key !== ''))];
    await this.prisma.$transaction(async (tx) => {
      // Serializes concurrent replaceAll calls (two admin pods, import + management).
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('client_api_keys'))`;
      const existing = await tx.clientApiKey.findMany({ select: { id: true, keyHash: true, position: true } });
      const byHash = new Map(existing.map((row) => [row.keyHash, row]));
      const wantedHashes = new Set(wanted.map(hashClientKey));
      const stale = existing.filter((row) => !wantedHashes.has(row.keyHash)).map((row) => row.id);
      if (stale.length > 0) await tx.clientApiKey.deleteMany({ where: { id: { in: stale } } });
      for (const [position, key] of wanted.entries()) {
        const current = byHash.get(hashClientKey(key));
        if (!current) {
          await tx.clientApiKey.create({ data: this.newRow(key, position, options) });
        } else if (current.position !== position) {
          await tx.clientApiKey.update({ where: { id: current.id }, data: { position } });
        }
      }
    });
    return this.list();
  }

  /** Adds a key at the end; adding a key that already exists returns it unchanged. */
  async add(key: string, options: ClientKeyOptions = {}): Promise<ClientKeyRecord> {
    if (key === '') throw new TypeError('client API key must not be empty');
    const existing = await this.prisma.clientApiKey.findUnique({ where: { keyHash: hashClientKey(key) } });
    if (existing) return this.toRecord(existing);
    const last = await this.prisma.clientApiKey.aggregate({ _max: { position: true } });
    try {
      const row = await this.prisma.clientApiKey.create({ data: this.newRow(key, (last._max.position ?? -1) + 1, options) });
      return this.toRecord(row);
    } catch (error) {
      if (prismaCode(error) !== 'P2002') throw error;
      return this.toRecord(await this.prisma.clientApiKey.findUniqueOrThrow({ where: { keyHash: hashClientKey(key) } }));
    }
  }

  /** Replaces one key by another in place (same id and position), e.g. PATCH {old, new}. */
  async replace(oldKey: string, newKey: string): Promise<ClientKeyRecord | null> {
    if (newKey === '') throw new TypeError('client API key must not be empty');
    const row = await this.prisma.clientApiKey.findUnique({ where: { keyHash: hashClientKey(oldKey) } });
    if (!row) return null;
    const updated = await this.prisma.clientApiKey.update({
      where: { id: row.id },
      data: { keyHash: hashClientKey(newKey), keyPreview: keyPreview(newKey), keyEnc: this.box.encrypt(newKey) },
    });
    return this.toRecord(updated);
  }

  async findById(id: string): Promise<ClientKeyRecord | null> {
    const row = await this.prisma.clientApiKey.findUnique({ where: { id } });
    return row ? this.toRecord(row) : null;
  }

  /** Changes a key's name, limits, budgets, expiry or state; null when there is no such key. */
  async update(id: string, settings: ClientKeySettings): Promise<ClientKeyRecord | null> {
    try {
      return this.toRecord(await this.prisma.clientApiKey.update({ where: { id }, data: settingsData(settings) }));
    } catch (error) {
      if (prismaCode(error) === 'P2025') return null;
      throw error;
    }
  }

  async removeById(id: string): Promise<boolean> {
    const { count } = await this.prisma.clientApiKey.deleteMany({ where: { id } });
    return count > 0;
  }

  async remove(key: string): Promise<boolean> {
    const { count } = await this.prisma.clientApiKey.deleteMany({ where: { keyHash: hashClientKey(key) } });
    return count > 0;
  }

  private newRow(key: string, position: number, options: ClientKeyOptions) {
    return {
      id: randomUUID(),
      keyHash: hashClientKey(key),
      keyPreview: keyPreview(key),
      keyEnc: this.box.encrypt(key),
      position,
      ...settingsData(options),
      ...(options.source !== undefined && { source: options.source }),
    };
  }

  private toRecord(row: ClientApiKey): ClientKeyRecord {
    return {
      id: row.id,
      key: this.box.decrypt(row.keyEnc),
      keyPreview: row.keyPreview,
      label: row.label,
      rpmLimit: row.rpmLimit,
      models: row.models,
      tpmLimit: row.tpmLimit,
      dailyTokenBudget: Number(row.dailyTokenBudget),
      monthlyTokenBudget: Number(row.monthlyTokenBudget),
      expiresAt: row.expiresAt,
      position: row.position,
      disabled: row.disabled,
      source: row.source,
      lastUsedAt: row.lastUsedAt,
      createdAt: row.createdAt,
    };
  }
}

/** The columns of the settings given (undefined leaves a column alone). */
function settingsData(settings: ClientKeySettings) {
  return {
    ...(settings.label !== undefined && { label: settings.label }),
    ...(settings.disabled !== undefined && { disabled: settings.disabled }),
    ...(settings.models !== undefined && { models: settings.models }),
    ...(settings.rpmLimit !== undefined && { rpmLimit: settings.rpmLimit }),
    ...(settings.tpmLimit !== undefined && { tpmLimit: settings.tpmLimit }),
    ...(settings.dailyTokenBudget !== undefined && { dailyTokenBudget: BigInt(settings.dailyTokenBudget) }),
    ...(settings.monthlyTokenBudget !== undefined && { monthlyTokenBudget: BigInt(settings.monthlyTokenBudget) }),
    ...(settings.expiresAt !== undefined && { expiresAt: settings.expiresAt }),
  };
}
