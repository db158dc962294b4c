import { z } from 'zod';
import type { CatalogCredentialRow, CatalogRows } from '@cpa/db';
import type { ClientKeyPolicy } from './client-key-policy';

/**
 * The catalog snapshot the admin (and the refresh worker) publish to Redis on every change,
 * and the only source the hot-path services read: credential columns with their secret
 * still encrypted (`secretEnc`, opened by executors with CPA_SECRET_KEY), settings and
 * client-key hashes. Never a plaintext secret or key.
 */
export interface CatalogDocument {
  /** Strictly increasing across publishers; a reader ignores a document older than its own. */
  generation: number;
  publishedAt: number;
  credentials: CatalogCredentialRow[];
  settings: Record<string, unknown>;
  clientKeys: CatalogClientKey[];
}

/**
 * A client key as the gateway checks it: its SHA-256 (`hashClientKey`), never the key,
 * with what it may do (`ClientKeyPolicy`; absent in documents of earlier admins = no limits).
 */
export interface CatalogClientKey extends Partial<ClientKeyPolicy> {
  id: string;
  label: string;
  disabled: boolean;
  hash: string;
}

export function catalogDocumentOf(rows: CatalogRows, generation: number, now = Date.now()): CatalogDocument {
  return {
    generation,
    publishedAt: now,
    credentials: rows.credentials,
    settings: rows.settings,
    clientKeys: rows.clientKeys.map((row) => ({
      id: row.id,
      label: row.label,
      disabled: row.disabled,
      hash: row.keyHash,
      models: row.models,
      rpmLimit: row.rpmLimit,
      tpmLimit: row.tpmLimit,
      dailyTokenBudget: Number(row.dailyTokenBudget),
      monthlyTokenBudget: Number(row.monthlyTokenBudget),
      expiresAt: row.expiresAt ? row.expiresAt.getTime() : null,
    })),
  };
}

// Checked on read: Redis is shared, and a document written by another version of the
// admin (or by hand) must be refused as a whole rather than half-used.
const DocumentSchema = z.object({
  generation: z.number().int().positive(),
  publishedAt: z.number(),
  credentials: z.array(
    z.looseObject({
      id: z.string(),
      provider: z.string(),
      kind: z.string(),
      version: z.number().int(),
      secretEnc: z.string(),
    }),
  ),
  settings: z.record(z.string(), z.unknown()),
  clientKeys: z.array(
    z.object({
      id: z.string(),
      label: z.string(),
      disabled: z.boolean(),
      hash: z.string(),
      models: z.array(z.string()).optional(),
      rpmLimit: z.number().int().nonnegative().optional(),
      tpmLimit: z.number().int().nonnegative().optional(),
      dailyTokenBudget: z.number().nonnegative().optional(),
      monthlyTokenBudget: z.number().nonnegative().optional(),
      expiresAt: z.number().nullable().optional(),
    }),
  ),
});

/** Parses a stored document; throws on anything that is not one. */
export function parseCatalogDocument(json: string): CatalogDocument {
  return DocumentSchema.parse(JSON.parse(json)) as unknown as CatalogDocument;
}
