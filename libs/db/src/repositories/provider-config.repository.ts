import { Inject, Injectable } from '@nestjs/common';
import type { Credential, Prisma, ProviderConfig } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';
import type { DbClient } from '../unit-of-work';

/** The columns of an openai-compatibility provider a writer sets (id and timestamps aside). */
export type ProviderConfigColumns = Omit<
  Prisma.ProviderConfigUncheckedCreateInput,
  'id' | 'createdAt' | 'updatedAt' | 'credentials'
>;

/**
 * openai-compatibility providers (provider_configs). Each API key of a provider is an
 * `openai-compat` credential (CredentialRepository) that references it; deleting a provider
 * deletes its credentials (ON DELETE CASCADE).
 */
@Injectable()
export class ProviderConfigRepository {
  constructor(@Inject(PrismaService) private readonly prisma: DbClient) {}

  /** Every provider with the source of each of its credentials (who imported it). */
  listWithCredentialSources(): Promise<(ProviderConfig & { credentials: { source: string }[] })[]> {
    return this.prisma.providerConfig.findMany({ include: { credentials: { select: { source: true } } } });
  }

  /** Every provider in list order, with its credentials. */
  listWithCredentials(): Promise<(ProviderConfig & { credentials: Credential[] })[]> {
    return this.prisma.providerConfig.findMany({
      orderBy: [{ position: 'asc' }, { name: 'asc' }],
      include: { credentials: true },
    });
  }

  async create(id: string, columns: ProviderConfigColumns): Promise<void> {
    await this.prisma.providerConfig.create({ data: { id, ...columns } });
  }

  async update(id: string, columns: ProviderConfigColumns): Promise<void> {
    await this.prisma.providerConfig.update({ where: { id }, data: columns });
  }

  /** Deletes the providers and, by cascade, their credentials. */
  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.prisma.providerConfig.deleteMany({ where: { id: { in: [...ids] } } });
  }
}
