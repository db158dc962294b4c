import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseRoutingStrategy, ROUTING_STRATEGIES } from '@cpa/routing';
import { parseDurationSeconds } from './duration';
import { ProxyUrlSchema } from './proxy-url';

/**
 * The CLIProxyAPI config.yaml subset this router imports. Parsed objects keep the file's
 * kebab-case shape because the management API speaks the same shape on the wire.
 */

const durationSeconds = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration (use e.g. 30s, 5m, 1h or a number of seconds)` });
    return z.NEVER;
  }
  return seconds;
});

const nonNegativeInt = z.number().int().min(0);
const trimmed = z.string().trim();

export const ModelAliasSchema = z.object({
  name: trimmed.min(1),
  alias: trimmed.optional(),
});
export type ModelAlias = z.infer<typeof ModelAliasSchema>;

const headers = z.record(z.string(), z.string());

/** One entry of claude-api-key, gemini-api-key, codex-api-key or vertex-api-key. */
export const ProviderKeyEntrySchema = z.object({
  'api-key': trimmed.min(1, 'api-key is required'),
  'base-url': trimmed.optional(),
  'proxy-url': ProxyUrlSchema.optional(),
  prefix: trimmed.optional(),
  models: z.array(ModelAliasSchema).optional(),
  'excluded-models': z.array(trimmed.min(1)).optional(),
  headers: headers.optional(),
  weight: nonNegativeInt.optional(),
  priority: z.number().int().optional(),
  'disable-cooling': z.boolean().optional(),
  'request-retry': nonNegativeInt.optional(),
});
export type ProviderKeyEntry = z.infer<typeof ProviderKeyEntrySchema>;

export const ApiKeyEntrySchema = z.object({
  'api-key': trimmed.min(1, 'api-key is required'),
  'proxy-url': ProxyUrlSchema.optional(),
  weight: nonNegativeInt.optional(),
});
export type ApiKeyEntry = z.infer<typeof ApiKeyEntrySchema>;

export const OpenAICompatEntrySchema = z.object({
  name: trimmed.min(1, 'name is required'),
  'base-url': trimmed.min(1, 'base-url is required'),
  prefix: trimmed.optional(),
  disabled: z.boolean().optional(),
  'api-key-entries': z.array(ApiKeyEntrySchema).optional(),
  models: z.array(ModelAliasSchema).optional(),
  headers: headers.optional(),
});
export type OpenAICompatEntry = z.infer<typeof OpenAICompatEntrySchema>;

/**
 * A routing strategy in any accepted spelling, read as its canonical name. An unknown one is
 * refused without quoting it (a secret pasted into the wrong field must not reach a log).
 */
export const RoutingStrategySchema = z.string().transform((value, ctx) => {
  const strategy = parseRoutingStrategy(value);
  if (!strategy) {
    ctx.addIssue({ code: 'custom', message: `unknown routing strategy (use ${ROUTING_STRATEGIES.join(', ')})` });
    return z.NEVER;
  }
  return strategy;
});

/** oauth-model-alias: channel (provider as CLIProxyAPI names it) -> upstream model `name` listed as `alias`; `fork` keeps `name` too. */
export const OAuthModelAliasSchema = z.object({
  name: z.string(),
  alias: z.string(),
  fork: z.boolean().optional(),
});
export type OAuthModelAlias = z.infer<typeof OAuthModelAliasSchema>;
export const OAuthModelAliasMapSchema = z.record(z.string(), z.array(OAuthModelAliasSchema));
/** oauth-excluded-models: channel -> model patterns (`*` wildcards) its OAuth credentials do not serve. */
export const OAuthExcludedModelsSchema = z.record(z.string(), z.array(z.string()));

export const ProviderKeySections = ['claude-api-key', 'gemini-api-key', 'codex-api-key', 'vertex-api-key'] as const;
export type ProviderKeySection = (typeof ProviderKeySections)[number];

export const ConfigFileSchema = z.object({
  port: z.number().int().min(1).max(65535).optional(),
  'api-keys': z.array(trimmed.min(1)).optional(),
  'claude-api-key': z.array(ProviderKeyEntrySchema).optional(),
  'gemini-api-key': z.array(ProviderKeyEntrySchema).optional(),
  'codex-api-key': z.array(ProviderKeyEntrySchema).optional(),
  // Vertex AI (or a Vertex-compatible service) with an API key sent as x-goog-api-key.
  'vertex-api-key': z.array(ProviderKeyEntrySchema).optional(),
  'openai-compatibility': z.array(OpenAICompatEntrySchema).optional(),
  routing: z
    .object({
      strategy: RoutingStrategySchema.optional(),
      'session-affinity': z.boolean().optional(),
      'session-affinity-ttl': durationSeconds.optional(),
    })
    .optional(),
  'request-retry': nonNegativeInt.optional(),
  'max-retry-interval': durationSeconds.optional(),
  'max-retry-credentials': nonNegativeInt.optional(),
  'force-model-prefix': z.boolean().optional(),
  'disable-cooling': z.boolean().optional(),
  'transient-error-cooldown-seconds': z.number().int().min(-1).optional(),
  'proxy-url': ProxyUrlSchema.optional(),
  'usage-retention-days': z.number().int().min(0).optional(),
  'auth-dir': trimmed.optional(),
  'oauth-model-alias': OAuthModelAliasMapSchema.optional(),
  'oauth-excluded-models': OAuthExcludedModelsSchema.optional(),
  'remote-management': z
    .object({
      'allow-remote': z.boolean().optional(),
      'secret-key': z.string().optional(),
    })
    .optional(),
});
/** A parsed config: durations are numbers of seconds, the routing strategy is canonical. */
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export interface ConfigWarning {
  /** Dotted path with list indexes, e.g. `claude-api-key[1].cloak`. */
  path: string;
  message: string;
}

export interface ParsedConfig {
  config: ConfigFile;
  warnings: ConfigWarning[];
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigWarning[]) {
    super(`Invalid config: ${problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses config.yaml text; throws ConfigError for invalid values, reports unknown keys as warnings. */
export function parseConfigYaml(text: string): ParsedConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError([{ path: '', message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return parseConfigObject(raw);
}

export function parseConfigObject(raw: unknown): ParsedConfig {
  const value = dropNulls(raw);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([{ path: '', message: 'the config must be a mapping of keys' }]);
  }
  const result = ConfigFileSchema.safeParse(value);
  if (!result.success) {
    // Messages never quote the offending value: it may be a key.
    throw new ConfigError(result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  const warnings = unknownKeys(ConfigFileSchema, value, []).map((path) => ({
    path: formatPath(path),
    message: 'unknown or unsupported key (ignored)',
  }));
  const secret = result.data['remote-management']?.['secret-key'];
  if (secret && isBcryptHash(secret)) {
    warnings.push({
      path: 'remote-management.secret-key',
      message: 'bcrypt-hashed secret keys are not supported; set the plain secret (it is stored hashed)',
    });
  }
  return { config: result.data, warnings };
}

export function isBcryptHash(value: string): boolean {
  return /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/.test(value);
}

/** YAML writes an empty key as null; CLIProxyAPI treats that as "not set". */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(dropNulls);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, dropNulls(v)]),
    );
  }
  return value;
}

type Path = (string | number | symbol)[];

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)),
    '',
  );
}

/** Walks the value beside the schema and returns the paths of keys the schema does not know. */
function unknownKeys(schema: z.ZodType, value: unknown, path: Path): Path[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isPlainObject(value)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(value).flatMap(([key, child]) =>
      key in shape ? unknownKeys(shape[key], child, [...path, key]) : [[...path, key]],
    );
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((item, i) => unknownKeys(inner.element as z.ZodType, item, [...path, i]));
  }
  return [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
