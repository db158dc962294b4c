import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../prisma.service';

/** The credential columns routing and execution need, with the still-encrypted secret. */
const CREDENTIAL_SELECT = {
  id: true,
  provider: true,
  kind: true,
  label: true,
  prefix: true,
  priority: true,
  weight: true,
  disabled: true,
  status: true,
  baseUrl: true,
  proxyUrl: true,
  attributes: true,
  version: true,
  secretEnc: true,
  providerConfig: { select: { name: true, baseUrl: true, prefix: true, disabled: true, models: true, headers: true } },
} satisfies Prisma.CredentialSelect;

export type CatalogCredentialRow = Prisma.CredentialGetPayload<{ select: typeof CREDENTIAL_SELECT }>;

/** A client key as the gateway checks it: by hash, never the key itself. */
export interface CatalogClientKeyRow {
  id: string;
  label: string;
  disabled: boolean;
  keyHash: string;
  models: string[];
  rpmLimit: number;
  tpmLimit: number;
  dailyTokenBudget: bigint;
  monthlyTokenBudget: bigint;
  expiresAt: Date | null;
}

const CLIENT_KEY_SELECT = {
  id: true,
  label: true,
  disabled: true,
  keyHash: true,
  models: true,
  rpmLimit: true,
  tpmLimit: true,
  dailyTokenBudget: true,
  monthlyTokenBudget: true,
  expiresAt: true,
} satisfies Prisma.ClientApiKeySelect;

/** Everything the catalog snapshot is built from, read in one repeatable-read transaction. */
export interface CatalogRows {
  credentials: CatalogCredentialRow[];
  settings: Record<string, unknown>;
  clientKeys: CatalogClientKeyRow[];
}

/**
 * Reads what the admin (and the refresh worker) publish to Redis as the catalog snapshot.
 * One transaction, so the credentials, settings and keys of one snapshot belong together.
 */
@Injectable()
export class CatalogSourceRepository {
  constructor(private readonly prisma: PrismaService) {}

  async read(): Promise<CatalogRows> {
    const [credentials, settings, clientKeys] = await this.prisma.$transaction(
      [
        this.prisma.credential.findMany({ select: CREDENTIAL_SELECT, orderBy: { id: 'asc' } }),
        this.prisma.setting.findMany({ select: { key: true, value: true } }),
        this.prisma.clientApiKey.findMany({ select: CLIENT_KEY_SELECT }),
      ],
      { isolationLevel: 'RepeatableRead' },
    );
    return { credentials, settings: Object.fromEntries(settings.map((s) => [s.key, s.value as unknown])), clientKeys };
  }
}
