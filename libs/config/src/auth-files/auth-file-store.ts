import type { Credential, Prisma, Repositories, UnitOfWork } from '@cpa/db';
import type { SecretCipher } from '../store';
import { renderTokenFile, type CredentialDraft, type StoredAuthFileCredential } from './token-file';

/**
 * Token files in Postgres. A file's credentials are found by `attributes.fileName`; each file
 * is written in one transaction, so a broken or failing file leaves nothing half-imported.
 */

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
export async function saveAuthFile(
  uow: UnitOfWork,
  box: SecretCipher,
  drafts: readonly CredentialDraft[],
  source: string,
): Promise<SavedAuthFile> {
  if (!drafts.length) throw new Error('saveAuthFile needs the drafts of one file');
  const name = drafts[0].attributes.fileName;
  const ids = drafts.map((d) => d.id);
  // Serialised with other token-file writers (admin replicas, the import command) by their advisory lock.
  return uow.run(
    async ({ credentials }) => {
      const existing = await credentials.rowsOfIdsOrFile(ids, name);
      const byId = new Map(existing.map((row) => [row.id, row]));
      const removed = existing.filter((row) => !ids.includes(row.id));
      const unchanged =
        removed.length === 0 &&
        drafts.every((d) => {
          const row = byId.get(d.id);
          return (
            row &&
            fileNameOf(row.attributes) === name &&
            (row.attributes as { fileHash?: unknown }).fileHash === d.attributes.fileHash
          );
        });
      if (unchanged) return { name, outcome: 'unchanged' as const, credentialIds: ids, removedIds: [] };

      await credentials.deleteMany(removed.map((row) => row.id));
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
          await credentials.insertRow({ id: draft.id, ...fields, disabled: draft.disabled, source });
          continue;
        }
        const previous = (row.attributes as { fileDisabled?: unknown } | null)?.fileDisabled;
        const disabled = previous === draft.disabled ? row.disabled : draft.disabled;
        await credentials.updateRow(draft.id, {
          ...fields,
          disabled,
          status: 'active',
          statusMessage: '',
          lastError: '',
          nextRefreshAt: null,
          version: { increment: 1 },
        });
      }
      return {
        name,
        outcome: existing.length ? ('updated' as const) : ('created' as const),
        credentialIds: ids,
        removedIds: removed.map((r) => r.id),
      };
    },
    { lock: 'authFiles', timeout: 30_000 },
  );
}

/** The stored credentials of a file, found by file name, or by the id of one of them. */
export async function findAuthFileRows({ credentials }: Repositories, nameOrId: string): Promise<Credential[]> {
  const byName = await credentials.rowsOfFile(nameOrId);
  if (byName.length) return byName;
  const row = await credentials.row(nameOrId);
  const fileName = row ? fileNameOf(row.attributes) : undefined;
  return fileName ? credentials.rowsOfFile(fileName) : [];
}

/** The file `name` (or the file of credential `name`) as CLIProxyAPI writes it, with the current tokens; undefined when unknown. */
export async function exportAuthFile(
  repos: Repositories,
  box: SecretCipher,
  name: string,
): Promise<{ name: string; file: Record<string, unknown> } | undefined> {
  const rows = await findAuthFileRows(repos, name);
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
export async function deleteAuthFiles(
  uow: UnitOfWork,
  names: readonly string[] | 'all',
): Promise<{ deleted: DeletedAuthFile[]; missing: string[] }> {
  return uow.run(
    async (repos) => {
      const groups = new Map<string, string[]>();
      const missing: string[] = [];
      if (names === 'all') {
        const rows = await repos.credentials.attributesOfAll();
        for (const row of rows) {
          const file = fileNameOf(row.attributes);
          if (file) groups.set(file, [...(groups.get(file) ?? []), row.id]);
        }
      } else {
        for (const name of names) {
          const rows = await findAuthFileRows(repos, name);
          if (!rows.length) missing.push(name);
          else
            groups.set(
              fileNameOf(rows[0].attributes)!,
              rows.map((row) => row.id),
            );
        }
      }
      const ids = [...groups.values()].flat();
      await repos.credentials.deleteMany(ids);
      return { deleted: [...groups].map(([name, credentialIds]) => ({ name, credentialIds })), missing };
    },
    { lock: 'authFiles' },
  );
}
