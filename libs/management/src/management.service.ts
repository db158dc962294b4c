import { Injectable } from '@nestjs/common';
import { exportConfig, importConfig } from '@cpa/config';
import { AuditRepository, SecretBox, UnitOfWork, type CredentialRepository } from '@cpa/db';
import { z } from 'zod';
import { ChangeNotifier } from './change-notifier';
import { parseConfigUpload, renderConfigYaml } from './config-yaml';
import { badRequest, ManagementError, notFound } from './management-error';
import { parseItem, type ListQuery } from './list-ops';
import { scalarSpec, type ScalarSpec } from './scalars';
import { LIST_SECTIONS, type ListSection } from './sections';

const ACTOR = 'management-api';

export const OK = { status: 'ok' } as const;

const ScalarBodySchema = z.custom<{ value: unknown }>(
  (body) => typeof body === 'object' && body !== null && (body as { value?: unknown }).value !== undefined,
  'value is required',
);
const ResetQuotaSchema = z.object({ auth_index: z.string().trim().min(1, 'auth_index is required') });
const AuthFileStatusSchema = z
  .object({
    name: z.string().trim().min(1).optional(),
    auth_index: z.string().trim().min(1).optional(),
    disabled: z.boolean({ error: 'disabled must be true or false' }),
  })
  .refine((body) => body.name || body.auth_index, 'name or auth_index is required');

/** The name GET /auth-files shows for a credential: its token file's name, else its label, account or id. */
export const authFileName = (row: { id: string; label: string; account: string; attributes?: unknown }) => {
  const fileName = (row.attributes as { fileName?: unknown } | null | undefined)?.fileName;
  return (typeof fileName === 'string' && fileName) || row.label || row.account || row.id;
};

export interface AuthFile {
  id: string;
  auth_index: string;
  name: string;
  type: string;
  provider: string;
  label: string;
  email: string;
  account: string;
  status: string;
  status_message: string;
  disabled: boolean;
  unavailable: boolean;
  runtime_only: boolean;
  source: string;
  priority: number;
  weight: number;
  prefix: string;
  base_url: string;
  proxy_url: string;
  note?: string;
  /** Requests answered and failed, over the recorded usage. */
  success: number;
  failed: number;
  last_refresh?: string;
  expires_at?: string;
  next_retry_after?: string;
  updated_at: string;
}

/**
 * The management API's operations over Postgres. Every change runs in one transaction,
 * leaves an audit entry without secrets, and is broadcast so every pod reloads.
 */
@Injectable()
export class ManagementService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  getConfig(): Promise<Record<string, unknown>> {
    return exportConfig(this.uow.repos, this.box);
  }

  async getList(name: string): Promise<Record<string, unknown[]>> {
    const section = this.section(name);
    return { [name]: await section.show(this.uow.repos, this.box) };
  }

  putList(name: string, body: unknown) {
    const section = this.section(name);
    const items = section.put(body);
    return this.changeList(section, 'put', () => items);
  }

  patchList(name: string, body: unknown) {
    const section = this.section(name);
    return this.changeList(section, 'patch', (current) => section.patch(current, body));
  }

  deleteList(name: string, query: ListQuery & Record<string, string | undefined>) {
    const section = this.section(name);
    return this.changeList(section, 'delete', (current) => section.remove(current, query));
  }

  async getConfigYaml(): Promise<string> {
    return renderConfigYaml(await exportConfig(this.uow.repos, this.box));
  }

  /**
   * Replaces the configuration with an uploaded config.yaml, exactly as the start-up import
   * does (rows imported earlier and gone from the text are removed), except that a missing
   * secret-key keeps the current management secret.
   */
  async putConfigYaml(body: unknown): Promise<{ status: 'ok'; warnings: string[] }> {
    const upload = parseConfigUpload(body);
    const summary = await importConfig(this.uow, this.box, upload.parsed, { keepManagementSecret: upload.keepsSecret, lockConfig: true });
    const { credentials, clientKeys, providers } = summary;
    await this.audit.record(ACTOR, 'config.put', 'config.yaml', {
      credentialsCreated: credentials.created,
      credentialsUpdated: credentials.updated,
      credentialsDeleted: credentials.deleted,
      clientKeysChanged: clientKeys.created + clientKeys.updated + clientKeys.deleted,
      providersChanged: providers.created + providers.updated + providers.deleted,
      settingsChanged: summary.settings,
      secretKept: upload.keepsSecret,
      warnings: summary.warnings.map((w) => w.path),
    });
    await this.notifier.configChanged(['config.yaml']);
    return { status: 'ok', warnings: upload.warnings };
  }

  /**
   * PATCH /auth-files/status: enables or disables one credential by auth_index, or by id or
   * listed name; a token file's name switches every credential of that file.
   */
  async setAuthFileStatus(body: unknown): Promise<typeof OK> {
    const { name, auth_index: authIndex, disabled } = parseItem(AuthFileStatusSchema, body, '');
    const ids = await this.uow.run(async ({ credentials }) => {
      const byIndex = authIndex ? await credentials.row(authIndex) : null;
      const rows = authIndex ? (byIndex ? [byIndex] : []) : await this.findAuthFileByName(credentials, name!);
      if (!rows.length) throw notFound('auth file not found');
      for (const row of rows) if (row.disabled !== disabled) await credentials.updateRow(row.id, { disabled });
      return rows.map((row) => row.id);
    });
    for (const id of ids) await this.audit.record(ACTOR, disabled ? 'credential.disable' : 'credential.enable', id, { before_disabled: !disabled, disabled });
    await this.notifier.credentialChanged(ids);
    return OK;
  }

  private async findAuthFileByName(credentials: CredentialRepository, name: string) {
    const byId = await credentials.row(name);
    if (byId) return [byId];
    const ofFile = await credentials.rowsOfFile(name);
    if (ofFile.length) return ofFile;
    const rows = await credentials.rowsLabelledOrOwned(name);
    const matches = rows.filter((row) => authFileName(row) === name);
    if (matches.length > 1) throw badRequest('several auth files have this name; use auth_index');
    return matches;
  }

  async getScalar(path: string): Promise<Record<string, unknown>> {
    const spec = this.scalar(path);
    const value = (await this.uow.repos.settings.get(spec.setting)) ?? spec.fallback;
    return { [spec.responseKey]: spec.show ? spec.show(value) : value };
  }

  async setScalar(path: string, body: unknown): Promise<typeof OK> {
    const spec = this.scalar(path);
    const { value: raw } = parseItem(ScalarBodySchema, body, '');
    const value = parseItem(spec.input, raw, 'value');
    const previous = (await this.uow.repos.settings.get(spec.setting)) ?? spec.fallback;
    const changed = await this.uow.run(({ settings }) => settings.set(spec.setting, value));
    if (changed) {
      const audited = (v: unknown) => (spec.audited ? spec.audited(v) : typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as string | number | boolean | null));
      // before_value: the console's audit page shows it as the "before" of the change.
      await this.audit.record(ACTOR, 'setting.update', spec.setting, { before_value: audited(previous), value: audited(value) });
      await this.notifier.configChanged([spec.setting]);
    }
    return OK;
  }

  /** DELETE of a scalar: back to the default (CLIProxyAPI has it for `proxy-url`). */
  async deleteScalar(path: string): Promise<typeof OK> {
    const spec = this.scalar(path);
    const changed = await this.uow.run(({ settings }) => settings.set(spec.setting, undefined));
    if (changed) {
      await this.audit.record(ACTOR, 'setting.delete', spec.setting, {});
      await this.notifier.configChanged([spec.setting]);
    }
    return OK;
  }

  /**
   * Clears a credential's cooldowns. The live state is the scheduler's (in Redis), which
   * clears it on the broadcast; here the Postgres mirror is cleared and its models reported.
   */
  async resetQuota(body: unknown): Promise<{ status: 'ok'; auth_index: string; models: string[] }> {
    const { auth_index: id } = parseItem(ResetQuotaSchema, body, '');
    const models = (await this.uow.run(({ credentials }) => credentials.clearModelStates(id)))?.sort();
    if (!models) throw notFound('auth not found');
    await this.audit.record(ACTOR, 'credential.reset-quota', id, { models });
    await this.notifier.quotaReset(id, models);
    return { status: 'ok', auth_index: id, models };
  }

  async listAuthFiles(): Promise<{ files: AuthFile[] }> {
    const [rows, counts] = await Promise.all([this.uow.repos.credentials.rows(), this.uow.repos.usage.totalsByCredential()]);
    const now = Date.now();
    return {
      files: rows.map((row) => {
        const retryAt = nextRetryAfter(row.modelStates, now);
        const used = counts.get(row.id) ?? { requests: 0, failures: 0 };
        const note = (row.attributes as { note?: unknown } | null)?.note;
        return {
          id: row.id,
          auth_index: row.id,
          name: authFileName(row),
          type: row.provider,
          provider: row.provider,
          label: row.label,
          email: row.account,
          account: row.account,
          status: row.disabled ? 'disabled' : row.status,
          status_message: row.statusMessage,
          disabled: row.disabled,
          unavailable: row.disabled || row.status !== 'active' || retryAt !== undefined,
          runtime_only: false,
          source: row.source,
          priority: row.priority,
          weight: row.weight,
          prefix: row.prefix,
          base_url: row.baseUrl,
          proxy_url: row.proxyUrl,
          ...(typeof note === 'string' && note ? { note } : {}),
          success: used.requests - used.failures,
          failed: used.failures,
          ...(row.lastRefreshAt ? { last_refresh: row.lastRefreshAt.toISOString() } : {}),
          ...(row.expiresAt ? { expires_at: row.expiresAt.toISOString() } : {}),
          ...(retryAt ? { next_retry_after: new Date(retryAt).toISOString() } : {}),
          updated_at: row.updatedAt.toISOString(),
        };
      }),
    };
  }

  private async changeList(section: ListSection<unknown>, verb: string, change: (current: unknown[]) => unknown[]): Promise<typeof OK> {
    const count = await this.uow.run(
      async (repos) => section.write(repos, this.box, change(await section.read(repos, this.box))),
      { lock: 'config' },
    );
    if (count.created + count.updated + count.deleted > 0) {
      await this.audit.record(ACTOR, `${section.name}.${verb}`, section.name, {
        created: count.created,
        updated: count.updated,
        deleted: count.deleted,
      });
      await this.notifier.configChanged([section.name]);
    }
    return OK;
  }

  private section(name: string): ListSection<unknown> {
    const section = LIST_SECTIONS.get(name);
    if (!section) throw new ManagementError(404, 'not found');
    return section;
  }

  private scalar(path: string): ScalarSpec {
    const spec = scalarSpec(path);
    if (!spec) throw new ManagementError(404, 'not found');
    return spec;
  }
}

/** Latest cooldown end among the mirrored model states still in the future (scheduler's mirror format). */
function nextRetryAfter(modelStates: unknown, now: number): number | undefined {
  if (!modelStates || typeof modelStates !== 'object') return undefined;
  let latest: number | undefined;
  for (const state of Object.values(modelStates as Record<string, unknown>)) {
    const until = (state as { nextRetryAfter?: unknown; cooldownUntil?: unknown } | null) ?? {};
    for (const candidate of [until.nextRetryAfter, until.cooldownUntil]) {
      const at = typeof candidate === 'number' ? candidate : typeof candidate === 'string' ? Date.parse(candidate) : NaN;
      if (at > now && (latest === undefined || at > latest)) latest = at;
    }
  }
  return latest;
}
