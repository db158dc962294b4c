import { Injectable } from '@nestjs/common';
import { SecretBox } from './crypto/secret-box';
import type { Prisma } from './generated/prisma/client';
import { PrismaService } from './prisma.service';
import { ClientKeyRepository } from './repositories/client-key.repository';
import { CredentialRepository } from './repositories/credential.repository';
import { ProviderConfigRepository } from './repositories/provider-config.repository';
import { SettingsRepository } from './repositories/settings.repository';
import { UsageRepository } from './repositories/usage.repository';

/** What a repository runs its queries on: the Prisma client, or an open transaction of it. */
export type DbClient = Prisma.TransactionClient;

/**
 * Advisory locks (pg_advisory_xact_lock ids) that serialise read-modify-write across admin
 * replicas and the import commands: `config` for config lists and settings, `authFiles` for
 * token files.
 */
export const DbLocks = { config: 0x63_70_61_01, authFiles: 0x63_70_61_02 } as const;
export type DbLock = keyof typeof DbLocks;

/** The repositories whose writes may share one transaction. */
export interface Repositories {
  credentials: CredentialRepository;
  clientKeys: ClientKeyRepository;
  providerConfigs: ProviderConfigRepository;
  settings: SettingsRepository;
  usage: UsageRepository;
}

export interface TransactionOptions {
  /** Taken first, held until commit. */
  lock?: DbLock;
  /** Interactive transaction timeout in ms (Prisma's default otherwise). */
  timeout?: number;
}

function repositoriesOn(client: DbClient, box: SecretBox): Repositories {
  return {
    credentials: new CredentialRepository(client, box),
    clientKeys: new ClientKeyRepository(client, box),
    providerConfigs: new ProviderConfigRepository(client),
    settings: new SettingsRepository(client),
    usage: new UsageRepository(client),
  };
}

/**
 * The one way a write spanning tables stays atomic: `run(work)` hands `work` repositories
 * bound to one transaction, which commits when `work` resolves and rolls back when it throws.
 * `repos` are the same repositories outside a transaction (each query on its own), for reads.
 */
@Injectable()
export class UnitOfWork {
  readonly repos: Repositories;

  constructor(
    private readonly prisma: PrismaService,
    private readonly box: SecretBox,
  ) {
    this.repos = repositoriesOn(prisma, box);
  }

  run<T>(work: (repos: Repositories) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.prisma.$transaction(
      async (tx) => {
        if (options.lock)
          await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(${DbLocks[options.lock]}::bigint)`;
        return work(repositoriesOn(tx, this.box));
      },
      options.timeout === undefined ? undefined : { timeout: options.timeout },
    );
  }
}
