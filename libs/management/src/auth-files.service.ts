import { Injectable, Logger } from '@nestjs/common';
import { FAMILY_OWNER, modelsServedBy, oauthModelRulesFrom, toCredentialInfo } from '@cpa/catalog';
import {
  AUTH_FILE_SOURCE,
  authFileNameProblem,
  deleteAuthFiles,
  exportAuthFile,
  findAuthFileRows,
  importTokenFile,
  importTokenFiles,
  ProxyUrlSchema,
  type AuthFileImportResult,
} from '@cpa/config';
import { isProviderFamily } from '@cpa/contracts';
import { AuditRepository, SecretBox, UnitOfWork, type CredentialRepository, type Prisma } from '@cpa/db';
import { z } from 'zod';
import { authFileName, authFileView, type AuthFile } from './auth-file-view';
import { ChangeNotifier } from './change-notifier';
import { MANAGEMENT_ACTOR, OK } from './management-answer';
import { badRequest, ManagementError, notFound } from './management-error';
import { parseItem } from './list-ops';

/** Source of token files uploaded through the management API (files from auth-dir are "auth-file"). */
export const UPLOAD_SOURCE = 'management';

/** One uploaded file: its name and raw bytes (or JSON already parsed by the HTTP layer). */
export interface UploadedFile {
  name: string;
  content: string | Buffer | object;
}

/** An answer and its HTTP status (CLIProxyAPI's batch routes answer 207 when some items failed). */
export interface StatusBody {
  status: number;
  body: Record<string, unknown>;
}

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
const intField = (name: string) => z.number(`${name} must be an integer`).int(`${name} must be an integer`);

/** PATCH /auth-files/fields: CLIProxyAPI's routing fields of a token file; null clears one. */
const FieldsPatchSchema = z
  .looseObject({
    name: z.string().trim().min(1).optional(),
    auth_index: z.string().trim().min(1).optional(),
    prefix: nullable(z.string('prefix must be a string')),
    proxy_url: nullable(ProxyUrlSchema),
    priority: nullable(intField('priority').refine((p) => Math.abs(p) <= 2 ** 31 - 1, 'priority is out of range')),
    weight: nullable(intField('weight').max(1_000_000, 'weight must not exceed 1000000')),
    note: nullable(z.string('note must be a string')),
    headers: nullable(z.record(z.string(), z.string(), 'headers must map names to strings')),
    excluded_models: nullable(z.array(z.string(), 'excluded_models must be a list of strings')),
    request_retry: nullable(intField('request_retry').max(1000, 'request_retry must not exceed 1000')),
    disable_cooling: nullable(z.boolean('disable_cooling must be true or false')),
    disabled: z.boolean('disabled must be true or false').optional(),
  })
  .refine((body) => body.name || body.auth_index, 'name is required');
type FieldsPatch = z.infer<typeof FieldsPatchSchema>;
const PATCHABLE = [
  'prefix',
  'proxy_url',
  'priority',
  'weight',
  'note',
  'headers',
  'excluded_models',
  'request_retry',
  'disable_cooling',
  'disabled',
] as const;

/** PATCH /auth-files/status. */
const StatusPatchSchema = z
  .object({
    name: z.string().trim().min(1).optional(),
    auth_index: z.string().trim().min(1).optional(),
    disabled: z.boolean({ error: 'disabled must be true or false' }),
  })
  .refine((body) => body.name || body.auth_index, 'name or auth_index is required');

type CredentialRow = Awaited<ReturnType<typeof findAuthFileRows>>[number];

/**
 * CLIProxyAPI's auth files over Postgres: the list of every credential and its on/off
 * switch, and the token files: import from a directory (start-up, `npm run import-auth`),
 * upload, download, delete, field edits and the models a file serves. Every change leaves an
 * audit entry (names and ids, never tokens) and is broadcast.
 */
@Injectable()
export class AuthFilesService {
  private readonly logger = new Logger('AuthFiles');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  /** GET /auth-files: every credential (token files and API keys), with its recorded usage. */
  async list(): Promise<{ files: AuthFile[] }> {
    const [rows, counts] = await Promise.all([
      this.uow.repos.credentials.rows(),
      this.uow.repos.usage.totalsByCredential(),
    ]);
    const now = Date.now();
    return { files: rows.map((row) => authFileView(row, counts.get(row.id), now)) };
  }

  /**
   * PATCH /auth-files/status: enables or disables one credential by auth_index, or by id or
   * listed name; a token file's name switches every credential of that file.
   */
  async setStatus(body: unknown): Promise<typeof OK> {
    const { name, auth_index: authIndex, disabled } = parseItem(StatusPatchSchema, body, '');
    const ids = await this.uow.run(async ({ credentials }) => {
      const byIndex = authIndex ? await credentials.row(authIndex) : null;
      const rows = authIndex ? (byIndex ? [byIndex] : []) : await rowsListedAs(credentials, name!);
      if (!rows.length) throw notFound('auth file not found');
      for (const row of rows) if (row.disabled !== disabled) await credentials.updateRow(row.id, { disabled });
      return rows.map((row) => row.id);
    });
    for (const id of ids)
      await this.audit.record(MANAGEMENT_ACTOR, disabled ? 'credential.disable' : 'credential.enable', id, {
        before_disabled: !disabled,
        disabled,
      });
    await this.notifier.credentialChanged(ids);
    return OK;
  }

  /** Imports the token files of a directory or file path (source "auth-file"); never writes to disk. */
  async importPath(path: string, actor: string): Promise<AuthFileImportResult[]> {
    const results = await importTokenFiles(this.uow, this.box, path, AUTH_FILE_SOURCE);
    await this.recordImport(actor, 'auth-files.import', path, results);
    return results;
  }

  /**
   * POST /auth-files. One file answers `{"status":"ok"}` or 400 with its error; several
   * answer 200 with the imported names, 207 when some failed, 400 when all failed.
   */
  async upload(files: readonly UploadedFile[]): Promise<StatusBody> {
    if (!files.length) throw badRequest('no files uploaded');
    const results: AuthFileImportResult[] = [];
    for (const file of files) {
      const problem = authFileNameProblem(file.name);
      results.push(
        problem
          ? {
              name: file.name,
              outcome: 'error',
              credentialIds: [],
              removedIds: [],
              error: problem === 'invalid name' ? problem : 'file must be .json',
            }
          : await importTokenFile(
              this.uow,
              this.box,
              file.name.trim(),
              typeof file.content === 'object' && !Buffer.isBuffer(file.content)
                ? JSON.stringify(file.content)
                : file.content,
              UPLOAD_SOURCE,
            ),
      );
    }
    await this.recordImport(
      MANAGEMENT_ACTOR,
      'auth-files.upload',
      files.length === 1 ? files[0].name : `${files.length} files`,
      results,
    );
    const failed = results.filter((r) => r.outcome === 'error');
    const uploaded = results.filter((r) => r.outcome !== 'error').map((r) => r.name);
    if (files.length === 1) {
      if (failed.length) throw badRequest(`invalid auth file: ${failed[0].error}`);
      return ok({ status: 'ok' });
    }
    const failures = failed.map((r) => ({ name: r.name, error: r.error ?? 'failed' }));
    if (!failed.length) return ok({ status: 'ok', uploaded: uploaded.length, files: uploaded });
    if (!uploaded.length)
      return {
        status: 400,
        body: { error: 'no file was imported', status: 'failed', uploaded: 0, files: [], failed: failures },
      };
    return { status: 207, body: { status: 'partial', uploaded: uploaded.length, files: uploaded, failed: failures } };
  }

  /** GET /auth-files/download: the file with its current tokens; audited, as it hands out secrets. */
  async download(name: string | undefined): Promise<{ name: string; json: string }> {
    const fileName = this.checkedName(name);
    const exported = await exportAuthFile(this.uow.repos, this.box, fileName);
    if (!exported) throw notFound('file not found');
    await this.audit.record(MANAGEMENT_ACTOR, 'auth-file.download', exported.name, {});
    return { name: exported.name, json: `${JSON.stringify(exported.file, null, 2)}\n` };
  }

  /** DELETE /auth-files: `?all=true`, or names (query, repeated query, or a JSON body `{name, names}` / array). */
  async remove(query: Record<string, string | string[] | undefined>, body: unknown): Promise<StatusBody> {
    const all = first(query.all);
    if (all === 'true' || all === '1' || all === '*') {
      const { deleted } = await deleteAuthFiles(this.uow, 'all');
      await this.recordDelete(
        deleted.map((d) => d.name),
        deleted.flatMap((d) => d.credentialIds),
      );
      return ok({ status: 'ok', deleted: deleted.length });
    }
    const names = requestedNames(query.name, body);
    if (!names.length) throw badRequest('invalid name');
    for (const name of names) if (/[/\\]/.test(name)) throw badRequest('invalid name');
    const { deleted, missing } = await deleteAuthFiles(this.uow, names);
    await this.recordDelete(
      deleted.map((d) => d.name),
      deleted.flatMap((d) => d.credentialIds),
    );
    if (names.length === 1) {
      if (missing.length) throw notFound('auth file not found');
      return ok({ status: 'ok' });
    }
    const files = deleted.map((d) => d.name);
    if (!missing.length) return ok({ status: 'ok', deleted: files.length, files });
    return {
      status: 207,
      body: {
        status: 'partial',
        deleted: files.length,
        files,
        failed: missing.map((name) => ({ name, error: 'auth file not found' })),
      },
    };
  }

  /**
   * PATCH /auth-files/fields: by `auth_index` one credential, by `name` every credential of
   * the file (all projects of a gemini file). Unknown fields are ignored, as CLIProxyAPI
   * keeps them as metadata this router does not use.
   */
  async patchFields(body: unknown): Promise<typeof OK> {
    const patch = parseItem(FieldsPatchSchema, body, '');
    const fields = PATCHABLE.filter((field) => field in patch);
    if (!fields.length) throw badRequest('no fields to update');
    if (
      typeof patch.prefix === 'string' &&
      patch.prefix
        .trim()
        .replace(/^\/+|\/+$/g, '')
        .includes('/')
    )
      throw badRequest('prefix must not contain /');
    const ids = await this.uow.run(async (repos) => {
      const byIndex = patch.auth_index ? await repos.credentials.row(patch.auth_index) : null;
      const rows = patch.auth_index ? (byIndex ? [byIndex] : []) : await findAuthFileRows(repos, patch.name!);
      const fileRows = rows.filter((row) => typeof (row.attributes as { fileName?: unknown }).fileName === 'string');
      if (!fileRows.length) throw notFound('auth file not found');
      for (const row of fileRows) await repos.credentials.updateRow(row.id, applyFields(row, patch));
      return fileRows.map((row) => row.id);
    });
    await this.audit.record(MANAGEMENT_ACTOR, 'auth-file.fields', patch.name ?? patch.auth_index ?? '', {
      credentials: ids,
      fields: [...fields],
    });
    await this.notifier.credentialChanged(ids);
    return OK;
  }

  /** GET /auth-files/models: the models the credential (or the file's first credential) serves, OAuth rules applied. */
  async models(name: string | undefined): Promise<{ models: { id: string; type: string; owned_by: string }[] }> {
    const key = name?.trim();
    if (!key) throw badRequest('name is required');
    const rows = await this.uow.repos.credentials.rowsWithProviderByIdOrFile(key);
    if (!rows.length) return { models: [] }; // CLIProxyAPI answers an empty list for an unknown name
    const rules = oauthModelRulesFrom(
      await this.uow.repos.settings.getMany(['oauth-model-alias', 'oauth-excluded-models']),
    );
    const info = toCredentialInfo(rows[0]);
    const provider = rows[0].provider;
    const owner = isProviderFamily(provider) ? FAMILY_OWNER[provider] : provider;
    return {
      models: info ? modelsServedBy(info, rules).map((m) => ({ id: m.id, type: provider, owned_by: owner })) : [],
    };
  }

  private checkedName(name: string | undefined): string {
    const fileName = name?.trim() ?? '';
    const problem = authFileNameProblem(fileName);
    if (problem) throw badRequest(problem);
    return fileName;
  }

  private async recordImport(
    actor: string,
    action: string,
    target: string,
    results: readonly AuthFileImportResult[],
  ): Promise<void> {
    const named = (outcome: string) => results.filter((r) => r.outcome === outcome).map((r) => r.name);
    for (const r of results) {
      if (r.cause) this.logger.error(`${r.name}: ${r.error}: ${(r.cause as Error).message?.split('\n')[0] ?? ''}`);
    }
    const changed = results.filter((r) => r.outcome === 'created' || r.outcome === 'updated' || r.removedIds.length);
    await this.audit.record(actor, action, target, {
      created: named('created'),
      updated: named('updated'),
      unchanged: named('unchanged').length,
      failed: named('error'),
    });
    if (changed.length)
      await this.notifier.configChanged(
        ['auth-files'],
        changed.flatMap((r) => [...r.credentialIds, ...r.removedIds]),
      );
  }

  private async recordDelete(files: string[], credentialIds: string[]): Promise<void> {
    if (!files.length) return;
    await this.audit.record(
      MANAGEMENT_ACTOR,
      'auth-files.delete',
      files.length === 1 ? files[0] : `${files.length} files`,
      { files, credentials: credentialIds },
    );
    await this.notifier.configChanged(['auth-files'], credentialIds);
  }
}

/** The credentials GET /auth-files lists under `name`: by id, the credentials of a token file, else by label or account. */
async function rowsListedAs(credentials: CredentialRepository, name: string) {
  const byId = await credentials.row(name);
  if (byId) return [byId];
  const ofFile = await credentials.rowsOfFile(name);
  if (ofFile.length) return ofFile;
  const rows = await credentials.rowsLabelledOrOwned(name);
  const matches = rows.filter((row) => authFileName(row) === name);
  if (matches.length > 1) throw badRequest('several auth files have this name; use auth_index');
  return matches;
}

/** The routing fields of a patch as column and attribute writes (null restores the default). */
function applyFields(row: CredentialRow, patch: FieldsPatch): Prisma.CredentialUncheckedUpdateInput {
  const attributes: Record<string, unknown> = { ...(row.attributes as Record<string, unknown>) };
  const data: Prisma.CredentialUncheckedUpdateInput = {};
  const has = (field: (typeof PATCHABLE)[number]) => field in patch;
  const setAttribute = (key: string, value: unknown) => {
    if (value === undefined || value === null) delete attributes[key];
    else attributes[key] = value;
  };
  if (has('prefix')) data.prefix = (patch.prefix ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (has('proxy_url')) data.proxyUrl = patch.proxy_url ?? '';
  if (has('priority')) data.priority = patch.priority ?? 0;
  if (has('weight')) data.weight = patch.weight === null || patch.weight === undefined ? 1 : Math.max(0, patch.weight);
  if (has('disabled') && patch.disabled !== undefined) data.disabled = patch.disabled;
  if (has('note')) setAttribute('note', patch.note?.trim() || undefined);
  if (has('excluded_models')) {
    const models = patch.excluded_models?.map((m) => m.trim()).filter(Boolean);
    setAttribute('excludedModels', models?.length ? models : undefined);
  }
  if (has('request_retry'))
    setAttribute(
      'requestRetry',
      patch.request_retry !== null && patch.request_retry !== undefined && patch.request_retry >= 0
        ? patch.request_retry
        : undefined,
    );
  if (has('disable_cooling')) setAttribute('disableCooling', patch.disable_cooling ?? undefined);
  if (has('headers')) {
    // CLIProxyAPI merges header patches; an empty value removes that header, null removes all.
    const next: Record<string, string> =
      patch.headers === null ? {} : { ...((attributes.headers as Record<string, string> | undefined) ?? {}) };
    for (const [name, value] of Object.entries(patch.headers ?? {})) {
      if (!name.trim()) continue;
      if (value.trim()) next[name.trim()] = value.trim();
      else delete next[name.trim()];
    }
    setAttribute('headers', Object.keys(next).length ? next : undefined);
  }
  data.attributes = attributes as Prisma.InputJsonValue;
  return data;
}

const ok = (body: Record<string, unknown>): StatusBody => ({ status: 200, body });
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** CLIProxyAPI reads names from `?name=` (repeatable), else from a JSON body: an array or `{name, names}`. */
function requestedNames(query: string | string[] | undefined, body: unknown): string[] {
  const fromQuery = (Array.isArray(query) ? query : query !== undefined ? [query] : [])
    .map((n) => n.trim())
    .filter(Boolean);
  let names = fromQuery;
  if (!names.length && body !== undefined && body !== null && body !== '') {
    if (Array.isArray(body)) names = body.filter((n): n is string => typeof n === 'string');
    else if (typeof body === 'object') {
      const { name, names: list } = body as { name?: unknown; names?: unknown };
      names = [
        ...(typeof name === 'string' ? [name] : []),
        ...(Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : []),
      ];
    } else throw new ManagementError(400, 'invalid request body');
  }
  return [...new Set(names.map((n) => n.trim()).filter(Boolean))];
}
