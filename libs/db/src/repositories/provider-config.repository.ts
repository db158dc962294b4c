import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Prisma, ProviderConfig } from '../generated/prisma/client';
import { asArray, asObject, jsonEqual } from '../json';
import { PrismaService } from '../prisma.service';
import { CredentialRepository, type CredentialFields, type CredentialRecord } from './credential.repository';

/** The provider family of every openai-compatibility credential. */
export const OPENAI_COMPAT_PROVIDER = 'openai-compat';

export interface ModelAlias {
  name: string;
  alias?: string;
}

export interface ProviderApiKeyEntry {
  apiKey: string;
  proxyUrl?: string;
  label?: string;
}

/** An openai-compatibility entry as config.yaml and the management API describe it. */
export interface ProviderConfigInput {
  name: string;
  baseUrl: string;
  prefix?: string;
  disabled?: boolean;
  models?: ModelAlias[];
  headers?: Record<string, string>;
  apiKeys: ProviderApiKeyEntry[];
  /** Recorded on the credentials: "config" for config.yaml imports, "management" otherwise. */
  source?: string;
}

export interface ProviderCredential extends CredentialRecord {
  apiKey: string;
}

export interface ProviderConfigRecord {
  id: string;
  name: string;
  baseUrl: string;
  prefix: string;
  disabled: boolean;
  models: ModelAlias[];
  headers: Record<string, string>;
  position: number;
  createdAt: Date;
  updatedAt: Date;
  /** One api_key credential per API key entry, in entry order. */
  credentials: ProviderCredential[];
}

export interface ProviderUpsertResult {
  config: ProviderConfigRecord;
  /** False when config and credentials already matched the input. */
  changed: boolean;
}

/**
 * openai-compatibility providers. Each API key of an entry is a credential of family
 * `openai-compat` that carries everything an executor needs on its own: base URL, prefix,
 * proxy, and `attributes.{providerName, models, headers}`.
 */
@Injectable()
export class ProviderConfigRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly credentials: CredentialRepository,
  ) {}

  async list(): Promise<ProviderConfigRecord[]> {
    const rows = await this.prisma.providerConfig.findMany({ orderBy: [{ position: 'asc' }, { name: 'asc' }] });
    return Promise.all(rows.map((row) => this.withCredentials(row)));
  }

  async get(name: string): Promise<ProviderConfigRecord | null> {
    const row = await this.prisma.providerConfig.findUnique({ where: { name } });
    return row ? this.withCredentials(row) : null;
  }

  /**
   * Creates or updates the entry named `input.name` and makes its credentials match
   * `input.apiKeys`: unchanged keys keep their credential (id, state, usage), new keys
   * get one, and keys no longer listed lose theirs.
   */
  async upsert(input: ProviderConfigInput, position?: number): Promise<ProviderUpsertResult> {
    const fields = {
      baseUrl: input.baseUrl,
      prefix: input.prefix ?? '',
      disabled: input.disabled ?? false,
      models: (input.models ?? []) as unknown as Prisma.InputJsonArray,
      headers: input.headers ?? {},
    };
    let changed = false;
    let row = await this.prisma.providerConfig.findUnique({ where: { name: input.name } });
    if (!row) {
      row = await this.prisma.providerConfig.create({
        data: { id: randomUUID(), name: input.name, position: position ?? (await this.nextPosition()), ...fields },
      });
      changed = true;
    } else if (!sameConfig(row, fields) || (position !== undefined && row.position !== position)) {
      row = await this.prisma.providerConfig.update({
        where: { id: row.id },
        data: { ...fields, ...(position !== undefined && { position }) },
      });
      changed = true;
    }
    changed = (await this.syncCredentials(row, input)) || changed;
    return { config: await this.withCredentials(row), changed };
  }

  /** Makes the stored entries exactly `inputs`, in that order (a PUT of the whole list). */
  async replaceAll(inputs: readonly ProviderConfigInput[]): Promise<{ configs: ProviderConfigRecord[]; changed: boolean }> {
    const names = new Set(inputs.map((input) => input.name));
    const { count } = await this.prisma.providerConfig.deleteMany({ where: { name: { notIn: [...names] } } });
    let changed = count > 0;
    for (const [position, input] of inputs.entries()) {
      changed = (await this.upsert(input, position)).changed || changed;
    }
    return { configs: await this.list(), changed };
  }

  /** Deletes the entry and, by cascade, its credentials. */
  async delete(name: string): Promise<boolean> {
    const { count } = await this.prisma.providerConfig.deleteMany({ where: { name } });
    return count > 0;
  }

  private async syncCredentials(config: ProviderConfig, input: ProviderConfigInput): Promise<boolean> {
    const existing = await this.credentials.listWithSecrets({ providerConfigId: config.id });
    const unmatched = new Map(existing.map((credential) => [credential.id, credential]));
    let changed = false;
    for (const [index, entry] of input.apiKeys.entries()) {
      const match = [...unmatched.values()].find((credential) => credential.secret.apiKey === entry.apiKey);
      const fields: CredentialFields = {
        provider: OPENAI_COMPAT_PROVIDER,
        kind: 'api_key',
        label: entry.label ?? config.name,
        prefix: config.prefix,
        baseUrl: config.baseUrl,
        proxyUrl: entry.proxyUrl ?? '',
        disabled: config.disabled,
        providerConfigId: config.id,
        attributes: { providerName: config.name, models: config.models, headers: config.headers, entryIndex: index },
        ...(input.source !== undefined && { source: input.source }),
      };
      const secret = { apiKey: entry.apiKey };
      if (match) {
        unmatched.delete(match.id);
        changed = (await this.credentials.upsert({ ...fields, id: match.id, secret })).changed || changed;
      } else {
        await this.credentials.create({ ...fields, secret });
        changed = true;
      }
    }
    for (const id of unmatched.keys()) {
      changed = (await this.credentials.delete(id)) || changed;
    }
    return changed;
  }

  private async withCredentials(row: ProviderConfig): Promise<ProviderConfigRecord> {
    const credentials = await this.credentials.listWithSecrets({ providerConfigId: row.id });
    const ordered = credentials
      .map(({ secret, ...credential }) => ({ ...credential, apiKey: typeof secret.apiKey === 'string' ? secret.apiKey : '' }))
      .sort((a, b) => Number(a.attributes.entryIndex ?? 0) - Number(b.attributes.entryIndex ?? 0));
    return {
      id: row.id,
      name: row.name,
      baseUrl: row.baseUrl,
      prefix: row.prefix,
      disabled: row.disabled,
      models: asArray<ModelAlias>(row.models),
      headers: asObject(row.headers) as Record<string, string>,
      position: row.position,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      credentials: ordered,
    };
  }

  private async nextPosition(): Promise<number> {
    const last = await this.prisma.providerConfig.aggregate({ _max: { position: true } });
    return (last._max.position ?? -1) + 1;
  }
}

function sameConfig(
  row: ProviderConfig,
  fields: { baseUrl: string; prefix: string; disabled: boolean; models: unknown; headers: Record<string, string> },
): boolean {
  return (
    row.baseUrl === fields.baseUrl &&
    row.prefix === fields.prefix &&
    row.disabled === fields.disabled &&
    jsonEqual(row.models, fields.models) &&
    jsonEqual(row.headers, fields.headers)
  );
}
