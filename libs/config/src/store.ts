import type { ProviderFamily } from '@cpa/contracts';
// Types only: the gateway and executors load this package and must never load the Prisma client.
import type { CredentialRecord, Prisma, Repositories, SecretBox, UnitOfWork } from '@cpa/db';
import { hashClientKey, keyPreview } from '@cpa/db/light';
import type {
  ConfigFile,
  ConfigWarning,
  ModelAlias,
  OpenAICompatEntry,
  ParsedConfig,
  ProviderKeyEntry,
  ProviderKeySection,
} from './config-file';
import { isBcryptHash } from './config-file';
import { formatDurationSeconds } from './duration';
import { clientKeyId, credentialId, decodeApiKeySecret, encodeApiKeySecret, providerConfigId } from './ids';
import { addCounts, compact, countOf, emptyCount, jsonEqual, planReconcile, type SyncCount } from './reconcile';
import { normalizeOAuthExcludedModels, sanitizeOAuthModelAlias } from './oauth-model-rules';
import { hashManagementSecret, verifyManagementSecret } from './secret-hash';
import { SettingKeys } from './settings';

/** What encrypts secrets at rest. */
export type SecretCipher = Pick<SecretBox, 'encrypt' | 'decrypt'>;

/**
 * How a write treats rows. The importer claims rows (source "config") and prunes only rows
 * it imported earlier; the management API replaces a whole section, keeping each kept row's
 * source and stamping new rows "management".
 */
export interface WriteMode {
  source: string;
  claim: boolean;
  prune: 'all' | 'same-source';
}

export const IMPORT_MODE: WriteMode = { source: 'config', claim: true, prune: 'same-source' };
export const MANAGEMENT_MODE: WriteMode = { source: 'management', claim: false, prune: 'all' };

export const SECTION_FAMILY: Record<ProviderKeySection, ProviderFamily> = {
  'claude-api-key': 'claude',
  'gemini-api-key': 'gemini',
  'codex-api-key': 'codex',
  // Vertex service accounts share the provider but are OAuth credentials, out of this list's scope.
  'vertex-api-key': 'vertex',
};

/** An entry that names the same credential as an earlier one in its list. */
export class DuplicateEntryError extends Error {
  constructor(readonly path: string) {
    super(`${path}: duplicate entry (same api-key and base-url as an earlier one)`);
    this.name = 'DuplicateEntryError';
  }
}

/** The columns an api-key credential is reconciled on; the id names the row, the secret is written once. */
// `disabled` is not synced: it is the operator's switch (PATCH /auth-files/status) and
// survives re-imports; an openai-compatibility entry's own `disabled` lives on the provider.
const SYNCED_COLUMNS = [
  'provider',
  'label',
  'prefix',
  'priority',
  'weight',
  'baseUrl',
  'proxyUrl',
  'providerConfigId',
] as const;
type SyncedColumn = (typeof SYNCED_COLUMNS)[number];

/** An api-key credential as config.yaml describes it: its stored columns plus the key in clear. */
type CredentialRow = Pick<CredentialRecord, 'id' | SyncedColumn> & {
  provider: ProviderFamily;
  apiKey: string;
  attributes: Record<string, unknown>;
};

const models = (list?: ModelAlias[]) => list?.map((m) => compact({ name: m.name, alias: m.alias || undefined }));

function providerKeyRow(family: ProviderFamily, entry: ProviderKeyEntry, position: number): CredentialRow {
  const apiKey = entry['api-key'];
  const baseUrl = entry['base-url'] ?? '';
  return {
    id: credentialId(family, baseUrl, apiKey),
    apiKey,
    provider: family,
    label: keyPreview(apiKey),
    prefix: entry.prefix ?? '',
    priority: entry.priority ?? 0,
    weight: entry.weight ?? 1,
    baseUrl,
    proxyUrl: entry['proxy-url'] ?? '',
    providerConfigId: null,
    attributes: compact({
      position,
      models: models(entry.models),
      excludedModels: entry['excluded-models'],
      headers: entry.headers,
      disableCooling: entry['disable-cooling'],
      requestRetry: entry['request-retry'],
    }),
  };
}

function openAICompatRows(provider: OpenAICompatEntry, providerId: string): CredentialRow[] {
  const baseUrl = provider['base-url'];
  return (provider['api-key-entries'] ?? []).map((entry, position) => ({
    id: credentialId('openai-compat', baseUrl, entry['api-key'], provider.name),
    apiKey: entry['api-key'],
    provider: 'openai-compat',
    label: keyPreview(entry['api-key']),
    prefix: provider.prefix ?? '',
    priority: 0,
    weight: entry.weight ?? 1,
    baseUrl,
    proxyUrl: entry['proxy-url'] ?? '',
    providerConfigId: providerId,
    // Models and headers are repeated per credential so the scheduler and executors read one row.
    attributes: compact({
      position,
      providerName: provider.name,
      models: models(provider.models),
      headers: provider.headers,
    }),
  }));
}

/** Rejects a list that names one row twice (the id is derived from the identifying fields). */
function assertUnique<T extends { id: string }>(rows: T[], path: (index: number) => string): T[] {
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    if (seen.has(row.id)) throw new DuplicateEntryError(path(index));
    seen.add(row.id);
  });
  return rows;
}

const credentialFields = (row: CredentialRow) => ({
  ...(Object.fromEntries(SYNCED_COLUMNS.map((column) => [column, row[column]])) as Pick<CredentialRow, SyncedColumn>),
  attributes: row.attributes as Prisma.InputJsonValue,
});

async function syncCredentialRows(
  { credentials }: Repositories,
  box: SecretCipher,
  scope: { provider: ProviderFamily; providerConfigId: string | null },
  desired: CredentialRow[],
  mode: WriteMode,
): Promise<SyncCount> {
  const existing = await credentials.apiKeyRows(scope);
  const plan = planReconcile(
    existing,
    desired,
    (e, d) =>
      SYNCED_COLUMNS.every((column) => e[column] === d[column]) &&
      jsonEqual(e.attributes, d.attributes) &&
      (!mode.claim || e.source === mode.source),
    (e) => mode.prune === 'all' || e.source === mode.source,
  );
  await credentials.deleteMany(plan.remove.map((e) => e.id));
  for (const { desired: row } of plan.update) {
    await credentials.updateRow(row.id, { ...credentialFields(row), ...(mode.claim ? { source: mode.source } : {}) });
  }
  for (const row of plan.create) {
    await credentials.insertRow({
      id: row.id,
      kind: 'api_key',
      ...credentialFields(row),
      secretEnc: box.encrypt(encodeApiKeySecret(row.apiKey)),
      source: mode.source,
    });
  }
  return countOf(plan);
}

const apiKeyScope = (family: ProviderFamily) => ({ provider: family, providerConfigId: null });

/** Writes one claude/gemini/codex key list. Throws DuplicateEntryError for a repeated entry. */
export async function syncProviderKeys(
  repos: Repositories,
  box: SecretCipher,
  section: ProviderKeySection,
  entries: ProviderKeyEntry[],
  mode: WriteMode,
): Promise<SyncCount> {
  const family = SECTION_FAMILY[section];
  const rows = assertUnique(
    entries.map((entry, i) => providerKeyRow(family, entry, i)),
    (i) => `${section}[${i}]`,
  );
  return syncCredentialRows(repos, box, apiKeyScope(family), rows, mode);
}

export interface OpenAICompatCount {
  providers: SyncCount;
  credentials: SyncCount;
}

/** Writes the openai-compatibility list: provider configs and one credential per api-key entry. */
export async function syncOpenAICompat(
  repos: Repositories,
  box: SecretCipher,
  entries: OpenAICompatEntry[],
  mode: WriteMode,
): Promise<OpenAICompatCount> {
  const desired = assertUnique(
    entries.map((entry, position) => ({
      id: providerConfigId(entry.name),
      entry,
      data: {
        name: entry.name,
        baseUrl: entry['base-url'],
        prefix: entry.prefix ?? '',
        disabled: entry.disabled ?? false,
        models: (models(entry.models) ?? []) as Prisma.InputJsonValue,
        headers: (entry.headers ?? {}) as Prisma.InputJsonValue,
        position,
      },
    })),
    (i) => `openai-compatibility[${i}] (name)`,
  );
  const existing = await repos.providerConfigs.listWithCredentialSources();
  const plan = planReconcile(
    existing,
    desired,
    (e, d) =>
      e.name === d.data.name &&
      e.baseUrl === d.data.baseUrl &&
      e.prefix === d.data.prefix &&
      e.disabled === d.data.disabled &&
      e.position === d.data.position &&
      jsonEqual(e.models, d.data.models) &&
      jsonEqual(e.headers, d.data.headers),
    // Provider configs carry no source column: one is the importer's when all its keys are.
    (e) => mode.prune === 'all' || e.credentials.every((c) => c.source === mode.source),
  );
  await repos.providerConfigs.deleteMany(plan.remove.map((e) => e.id));
  for (const { desired: d } of plan.update) await repos.providerConfigs.update(d.id, d.data);
  for (const d of plan.create) await repos.providerConfigs.create(d.id, d.data);

  // Keys of removed providers go with them (ON DELETE CASCADE); count them as removed credentials.
  let credentials: SyncCount = { ...emptyCount(), deleted: plan.remove.reduce((n, e) => n + e.credentials.length, 0) };
  for (const d of desired) {
    const rows = assertUnique(
      openAICompatRows(d.entry, d.id),
      (i) => `openai-compatibility[${d.data.position}].api-key-entries[${i}]`,
    );
    credentials = addCounts(
      credentials,
      await syncCredentialRows(repos, box, { provider: 'openai-compat', providerConfigId: d.id }, rows, mode),
    );
  }
  return { providers: countOf(plan), credentials };
}

/** Writes the client API keys (hashed for lookup, encrypted for listing). */
export async function syncClientKeys(
  { clientKeys }: Repositories,
  keys: string[],
  mode: WriteMode,
): Promise<SyncCount> {
  const desired = assertUnique(
    keys.map((key, position) => {
      const keyHash = hashClientKey(key);
      return { id: clientKeyId(keyHash), key, keyHash, position };
    }),
    (i) => `api-keys[${i}]`,
  );
  const existing = await clientKeys.rows();
  const plan = planReconcile(
    existing,
    desired,
    (e, d) => e.position === d.position && (!mode.claim || e.source === mode.source),
    (e) => mode.prune === 'all' || e.source === mode.source,
  );
  await clientKeys.deleteMany(plan.remove.map((e) => e.id));
  for (const { desired: d } of plan.update)
    await clientKeys.setPosition(d.id, d.position, mode.claim ? mode.source : undefined);
  for (const d of plan.create) await clientKeys.insert(d.id, d.key, d.position, mode.source);
  return countOf(plan);
}

/** The settings a config file defines; absent keys map to undefined (back to defaults). */
export function settingsOf(config: ConfigFile): Record<string, unknown> {
  return {
    [SettingKeys.port]: config.port,
    [SettingKeys.routingStrategy]: config.routing?.strategy,
    [SettingKeys.sessionAffinity]: config.routing?.['session-affinity'],
    [SettingKeys.sessionAffinityTtl]: config.routing?.['session-affinity-ttl'],
    [SettingKeys.requestRetry]: config['request-retry'],
    [SettingKeys.maxRetryInterval]: config['max-retry-interval'],
    [SettingKeys.maxRetryCredentials]: config['max-retry-credentials'],
    [SettingKeys.forceModelPrefix]: config['force-model-prefix'],
    [SettingKeys.disableCooling]: config['disable-cooling'],
    [SettingKeys.transientErrorCooldownSeconds]: config['transient-error-cooldown-seconds'],
    // An empty value is no setting: the default (no proxy) applies.
    [SettingKeys.proxyUrl]: config['proxy-url'] || undefined,
    [SettingKeys.usageRetentionDays]: config['usage-retention-days'],
    [SettingKeys.allowRemoteManagement]: config['remote-management']?.['allow-remote'],
    [SettingKeys.oauthModelAlias]: sanitizeOAuthModelAlias(config['oauth-model-alias']),
    [SettingKeys.oauthExcludedModels]: normalizeOAuthExcludedModels(config['oauth-excluded-models']),
  };
}

/** A secret-key the importer can hash: set, and not a bcrypt hash (whose plain secret is unknown). */
export function isUsableManagementSecret(secret: string | undefined): secret is string {
  return !!secret && !isBcryptHash(secret);
}

async function syncManagementSecret({ settings }: Repositories, secret: string | undefined): Promise<boolean> {
  const usable = isUsableManagementSecret(secret) ? secret : undefined;
  const current = await settings.get(SettingKeys.managementSecretHash);
  // The hash is salted, so an unchanged secret is detected by verifying, not by comparing.
  if (usable && typeof current === 'string' && (await verifyManagementSecret(usable, current))) return false;
  return settings.set(SettingKeys.managementSecretHash, usable ? await hashManagementSecret(usable) : undefined);
}

export interface ImportSummary {
  credentials: SyncCount;
  clientKeys: SyncCount;
  providers: SyncCount;
  /** Number of settings written or removed. */
  settings: number;
  warnings: ConfigWarning[];
  /** The file's auth-dir as written (not stored: the admin imports that directory at start-up). */
  authDir?: string;
}

/**
 * Imports a parsed config.yaml into Postgres in one transaction. Rows are keyed by
 * deterministic ids and written only when they differ, so importing the same file again
 * changes nothing; rows imported earlier (source "config") and gone from the file are removed.
 */
export interface ImportOptions {
  /**
   * Leave the stored management secret alone when the config names no usable one (the
   * management API's upload must not lock out the operator who sent it). The start-up
   * import follows the file: no secret there means no management API.
   */
  keepManagementSecret?: boolean;
  /** Serialise with the management API's list and setting writes (its advisory lock, taken first). */
  lockConfig?: boolean;
}

export async function importConfig(
  uow: UnitOfWork,
  box: SecretCipher,
  parsed: ParsedConfig,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const { config } = parsed;
  return uow.run(
    async (repos) => {
      const clientKeys = await syncClientKeys(repos, config['api-keys'] ?? [], IMPORT_MODE);
      let credentials = emptyCount();
      for (const section of Object.keys(SECTION_FAMILY) as ProviderKeySection[]) {
        credentials = addCounts(
          credentials,
          await syncProviderKeys(repos, box, section, config[section] ?? [], IMPORT_MODE),
        );
      }
      const compat = await syncOpenAICompat(repos, box, config['openai-compatibility'] ?? [], IMPORT_MODE);
      credentials = addCounts(credentials, compat.credentials);
      let settings = 0;
      for (const [key, value] of Object.entries(settingsOf(config)))
        if (await repos.settings.set(key, value)) settings++;
      const secret = config['remote-management']?.['secret-key'];
      if (
        (!options.keepManagementSecret || isUsableManagementSecret(secret)) &&
        (await syncManagementSecret(repos, secret))
      )
        settings++;
      return {
        credentials,
        clientKeys,
        providers: compat.providers,
        settings,
        warnings: parsed.warnings,
        authDir: config['auth-dir'],
      };
    },
    { timeout: 30_000, ...(options.lockConfig && { lock: 'config' as const }) },
  );
}

const position = (attributes: unknown) =>
  (attributes as { position?: number } | null)?.position ?? Number.MAX_SAFE_INTEGER;
const byPosition = <T extends { id: string; attributes: unknown }>(a: T, b: T) =>
  position(a.attributes) - position(b.attributes) || (a.id < b.id ? -1 : 1);

interface StoredAttributes {
  models?: ModelAlias[];
  excludedModels?: string[];
  headers?: Record<string, string>;
  disableCooling?: boolean;
  requestRetry?: number;
}

export async function readClientKeys({ clientKeys }: Repositories): Promise<string[]> {
  return (await clientKeys.list()).map((record) => record.key);
}

/** A key list entry plus the id of the credential it became (CLIProxyAPI's auth-index). */
export type StoredProviderKey = ProviderKeyEntry & { 'auth-index': string };

export async function readProviderKeys(
  repos: Repositories,
  box: SecretCipher,
  section: ProviderKeySection,
): Promise<StoredProviderKey[]> {
  const rows = await repos.credentials.apiKeyRows(apiKeyScope(SECTION_FAMILY[section]));
  return rows.sort(byPosition).map((row) => {
    const a = row.attributes as StoredAttributes;
    return {
      ...(compact({
        'api-key': decodeApiKeySecret(box.decrypt(row.secretEnc)),
        'base-url': row.baseUrl || undefined,
        'proxy-url': row.proxyUrl || undefined,
        prefix: row.prefix || undefined,
        models: a.models,
        'excluded-models': a.excludedModels,
        headers: a.headers,
        weight: row.weight === 1 ? undefined : row.weight,
        priority: row.priority || undefined,
        'disable-cooling': a.disableCooling,
        'request-retry': a.requestRetry,
      }) as ProviderKeyEntry),
      'auth-index': row.id,
    };
  });
}

export async function readOpenAICompat(repos: Repositories, box: SecretCipher): Promise<OpenAICompatEntry[]> {
  const providers = await repos.providerConfigs.listWithCredentials();
  return providers.map((p) => {
    const models = p.models as ModelAlias[];
    const headers = p.headers as Record<string, string>;
    return compact({
      name: p.name,
      'base-url': p.baseUrl,
      prefix: p.prefix || undefined,
      disabled: p.disabled || undefined,
      'api-key-entries': p.credentials.sort(byPosition).map((c) =>
        compact({
          'api-key': decodeApiKeySecret(box.decrypt(c.secretEnc)),
          'proxy-url': c.proxyUrl || undefined,
          weight: c.weight === 1 ? undefined : c.weight,
        }),
      ),
      models: models.length ? models : undefined,
      headers: Object.keys(headers).length ? headers : undefined,
    }) as OpenAICompatEntry;
  });
}

export async function readSettings({ settings }: Repositories): Promise<Map<string, unknown>> {
  return new Map(Object.entries(await settings.getAll()));
}

/**
 * The stored configuration in CLIProxyAPI's config shape (GET /v0/management/config).
 * Contains keys in clear: serve it only over the authenticated management API.
 */
export async function exportConfig(repos: Repositories, box: SecretCipher): Promise<Record<string, unknown>> {
  const settings = await readSettings(repos);
  const s = (key: string) => settings.get(key);
  const duration = (key: string) => (typeof s(key) === 'number' ? formatDurationSeconds(s(key) as number) : undefined);
  const sections: Record<string, unknown> = {};
  for (const section of Object.keys(SECTION_FAMILY) as ProviderKeySection[])
    sections[section] = await readProviderKeys(repos, box, section);
  return compact({
    port: s(SettingKeys.port),
    'api-keys': await readClientKeys(repos),
    ...sections,
    'openai-compatibility': await readOpenAICompat(repos, box),
    routing: compact({
      strategy: s(SettingKeys.routingStrategy),
      'session-affinity': s(SettingKeys.sessionAffinity),
      'session-affinity-ttl': duration(SettingKeys.sessionAffinityTtl),
    }),
    'request-retry': s(SettingKeys.requestRetry),
    'max-retry-interval': s(SettingKeys.maxRetryInterval),
    'max-retry-credentials': s(SettingKeys.maxRetryCredentials),
    'force-model-prefix': s(SettingKeys.forceModelPrefix),
    'disable-cooling': s(SettingKeys.disableCooling),
    'transient-error-cooldown-seconds': s(SettingKeys.transientErrorCooldownSeconds),
    'proxy-url': s(SettingKeys.proxyUrl),
    'usage-retention-days': s(SettingKeys.usageRetentionDays),
    'oauth-model-alias': s(SettingKeys.oauthModelAlias),
    'oauth-excluded-models': s(SettingKeys.oauthExcludedModels),
    // The secret itself is only stored hashed, so it cannot be exported.
    'remote-management': compact({ 'allow-remote': s(SettingKeys.allowRemoteManagement) }),
  });
}
