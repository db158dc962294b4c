import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/cliproxy';

/** Injection token for the Postgres connection string (defaults to env DATABASE_URL). */
export const DATABASE_URL = Symbol('DATABASE_URL');

export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** A Prisma client over node-postgres (no query engine binary: Prisma 7 driver adapters). */
export function createPrismaClient(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}

/** The Prisma client as a NestJS provider: connects on init, disconnects on shutdown. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  constructor(@Optional() @Inject(DATABASE_URL) databaseUrl?: string) {
    super({ adapter: new PrismaPg({ connectionString: databaseUrl ?? databaseUrlFromEnv() }) });
  }

  async onModuleInit(): Promise<void> {
    await this.$connect();
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
