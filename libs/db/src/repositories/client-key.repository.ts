import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { hashClientKey, keyPreview } from '../crypto/client-key';
import { SecretBox } from '../crypto/secret-box';
import type { ClientApiKey } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import type { DbClient } from '../unit-of-work';
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
    @Inject(PrismaService) private readonly prisma: DbClient,
    private readonly box: SecretBox,
  ) {}

  async list(): Promise<ClientKeyRecord[]> {
    const rows = await this.prisma.clientApiKey.findMany({ orderBy: [{ position: 'asc' }, { createdAt: 'asc' }] });
    return rows.map((row) => this.toRecord(row));
  }

  /** Adds a key at the end; adding a key that already exists returns it unchanged. */
  async add(key: string, options: ClientKeyOptions = {}): Promise<ClientKeyRecord> {
    if (key === '') throw new TypeError('client API key must not be empty');
    const existing = await this.prisma.clientApiKey.findUnique({ where: { keyHash: hashClientKey(key) } });
    if (existing) return this.toRecord(existing);
    const last = await this.prisma.clientApiKey.aggregate({ _max: { position: true } });
    try {
      const row = await this.prisma.clientApiKey.create({
        data: this.newRow(key, (last._max.position ?? -1) + 1, options),
      });
      return this.toRecord(row);
    } catch (error) {
      if (prismaCode(error) !== 'P2002') throw error;
      return this.toRecord(
        await this.prisma.clientApiKey.findUniqueOrThrow({ where: { keyHash: hashClientKey(key) } }),
      );
    }
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

  /** The stored rows as they are (hash, preview, ciphertext): what the config reconciler compares. */
  rows(): Promise<ClientApiKey[]> {
    return this.prisma.clientApiKey.findMany();
  }

  /** Creates a key under a given id (the config importer derives ids from the key's hash). */
  async insert(id: string, key: string, position: number, source: string): Promise<void> {
    await this.prisma.clientApiKey.create({ data: this.newRow(key, position, { source }, id) });
  }

  /** Moves a key in the list; `source` also claims it (the importer takes over a key it now lists). */
  async setPosition(id: string, position: number, source?: string): Promise<void> {
    await this.prisma.clientApiKey.update({
      where: { id },
      data: { position, ...(source !== undefined && { source }) },
    });
  }

  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.prisma.clientApiKey.deleteMany({ where: { id: { in: [...ids] } } });
  }

  private newRow(key: string, position: number, options: ClientKeyOptions, id: string = randomUUID()) {
    return {
      id,
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
