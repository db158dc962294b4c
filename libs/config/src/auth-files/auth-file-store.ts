import type { Credential, Prisma } from '@cpa/db';
import type { Db, SecretCipher, Tx } from '../store';
import { renderTokenFile, type CredentialDraft, type StoredAuthFileCredential } from './token-file';

/**
 * Token files in Postgres. A file's credentials are found by `attributes.fileName`; each file
 * is written in one transaction, so a broken or failing file leaves nothing half-imported.
 */

/** Serialises writes of token files across admin replicas and the import command (pg advisory lock id). */
const AUTH_FILE_LOCK = 0x63_70_61_02;

/** Credential source of files imported from auth-dir or by `npm run import-auth`. */
export const AUTH_FILE_SOURCE = 'auth-file';

export type AuthFileOutcome = 'created' | 'updated' | 'unchanged';

export interface SavedAuthFile {
  name: string;
  outcome: AuthFileOutcome;
  /** The credentials the file is now (one, or one per gemini project). */
  credentialIds: string[];
  /** Credentials of an earlier version of the file that it no longer describes (a dropped gemini project). */
  removedIds: string[];
}

const fileNameOf = (attributes: unknown): string | undefined => {
  const name = (attributes as { fileName?: unknown } | null)?.fileName;
  return typeof name === 'string' && name ? name : undefined;
};

const byFileName = (name: string): Prisma.CredentialWhereInput => ({ attributes: { path: ['fileName'], equals: name } });

async function lock(tx: Tx): Promise<void> {
  await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(${AUTH_FILE_LOCK}::bigint)`;
}

/**
 * Writes the credentials of one parsed token file (drafts of `parseTokenFile`, all of one file).
 *
 * - Nothing stored yet: the credentials are created with `source`.
 * - Stored from the same file content (same hash): nothing is written. The stored tokens may
 *   have been refreshed since, and an operator's changes (fields, disable) must survive restarts.
 * - The file changed (e.g. a new login): its tokens and fields replace the stored ones and a
 *   failed-refresh status is cleared. `disabled` follows the file only when the file's own value
 *   changed, so an operator's PATCH /auth-files/status survives re-imports.
 */
export async function saveAuthFile(db: Db, box: SecretCipher, drafts: readonly CredentialDraft[], source: string): Promise<SavedAuthFile> {
  if (!drafts.length) throw new Error('saveAuthFile needs the drafts of one file');
  const name = drafts[0].attributes.fileName;
  const ids = drafts.map((d) => d.id);
  return db.$transaction(async (tx) => {
    await lock(tx);
    const existing = await tx.credential.findMany({ where: { OR: [{ id: { in: ids } }, byFileName(name)] } });
    const byId = new Map(existing.map((row) => [row.id, row]));
    const removed = existing.filter((row) => !ids.includes(row.id));
    const unchanged =
      removed.length === 0 &&
      drafts.every((d) => {
        const row = byId.get(d.id);
        return row && fileNameOf(row.attributes) === name && (row.attributes as { fileHash?: unknown }).fileHash === d.attributes.fileHash;
      });
    if (unchanged) return { name, outcome: 'unchanged' as const, credentialIds: ids, removedIds: [] };

    if (removed.length) await tx.credential.deleteMany({ where: { id: { in: removed.map((row) => row.id) } } });
    for (const draft of drafts) {
      const row = byId.get(draft.id);
      const fields = {
        provider: draft.provider,
        kind: draft.kind,
        label: draft.label,
        account: draft.account,
        prefix: draft.prefix,
        priority: draft.priority,
        weight: draft.weight,
        proxyUrl: draft.proxyUrl,
        attributes: draft.attributes as Prisma.InputJsonValue,
        secretEnc: box.encrypt(JSON.stringify(draft.secret)),
        expiresAt: draft.expiresAt,
        lastRefreshAt: draft.lastRefreshAt,
      };
      if (!row) {
        await tx.credential.create({ data: { id: draft.id, ...fields, disabled: draft.disabled, source } });
        continue;
      }
      const previous = (row.attributes as { fileDisabled?: unknown } | null)?.fileDisabled;
      const disabled = previous === draft.disabled ? row.disabled : draft.disabled;
      await tx.credential.update({
        where: { id: draft.id },
        data: { ...fields, disabled, status: 'active', statusMessage: '', lastError: '', nextRefreshAt: null, version: { increment: 1 } },
      });
    }
    return { name, outcome: existing.length ? ('updated' as const) : ('created' as const), credentialIds: ids, removedIds: removed.map((r) => r.id) };
  }, { timeout: 30_000 });
}

type Reader = Pick<Db, 'credential'> | Tx;

/** The stored credentials of a file, found by file name, or by the id of one of them. */
export async function findAuthFileRows(db: Reader, nameOrId: string): Promise<Credential[]> {
  const byName = await db.credential.findMany({ where: byFileName(nameOrId), orderBy: { id: 'asc' } });
  if (byName.length) return byName;
  const row = await db.credential.findUnique({ where: { id: nameOrId } });
  const fileName = row ? fileNameOf(row.attributes) : undefined;
  return fileName ? db.credential.findMany({ where: byFileName(fileName), orderBy: { id: 'asc' } }) : [];
}

/** The file `name` (or the file of credential `name`) as CLIProxyAPI writes it, with the current tokens; undefined when unknown. */
export async function exportAuthFile(db: Reader, box: SecretCipher, name: string): Promise<{ name: string; file: Record<string, unknown> } | undefined> {
  const rows = await findAuthFileRows(db, name);
  if (!rows.length) return undefined;
  const credentials: StoredAuthFileCredential[] = rows.map((row) => ({
    ...row,
    attributes: row.attributes as Record<string, unknown>,
    secret: JSON.parse(box.decrypt(row.secretEnc)) as Record<string, unknown>,
  }));
  return { name: fileNameOf(rows[0].attributes)!, file: renderTokenFile(credentials) };
}

export interface DeletedAuthFile {
  name: string;
  credentialIds: string[];
}

/** Deletes the credentials of the named files (or of every file-backed credential); API-key credentials are never touched. */
export async function deleteAuthFiles(db: Db, names: readonly string[] | 'all'): Promise<{ deleted: DeletedAuthFile[]; missing: string[] }> {
  return db.$transaction(async (tx) => {
    await lock(tx);
    const groups = new Map<string, string[]>();
    const missing: string[] = [];
    if (names === 'all') {
      const rows = await tx.credential.findMany({ select: { id: true, attributes: true } });
      for (const row of rows) {
        const file = fileNameOf(row.attributes);
        if (file) groups.set(file, [...(groups.get(file) ?? []), row.id]);
      }
    } else {
      for (const name of names) {
        const rows = await findAuthFileRows(tx, name);
        if (!rows.length) missing.push(name);
        else groups.set(fileNameOf(rows[0].attributes)!, rows.map((row) => row.id));
      }
    }
    const ids = [...groups.values()].flat();
    if (ids.length) await tx.credential.deleteMany({ where: { id: { in: ids } } });
    return { deleted: [...groups].map(([name, credentialIds]) => ({ name, credentialIds })), missing };
  });
}
