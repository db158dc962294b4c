import {
  ConfigError,
  isUsableManagementSecret,
  parseConfigObject,
  parseConfigYaml,
  ProviderKeySections,
  type ParsedConfig,
} from '@cpa/config';
import { stringify } from 'yaml';
import { badRequest } from './management-error';

/** Content types the admin reads as raw text for PUT /config.yaml. */
export const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] as const;
export const YAML_RESPONSE_TYPE = 'application/yaml; charset=utf-8';

export const KEPT_SECRET_WARNING =
  'remote-management.secret-key: not set (or not usable); the current management secret was kept';

/**
 * The exported configuration as config.yaml text. `auth-index` is the management API's
 * id of a key entry, not a config.yaml key, so it is left out: the text imports back
 * without warnings.
 */
export function renderConfigYaml(exported: Record<string, unknown>): string {
  const config: Record<string, unknown> = { ...exported };
  for (const section of ProviderKeySections) {
    const entries = config[section];
    if (Array.isArray(entries)) {
      config[section] = entries.map((entry: Record<string, unknown>) => {
        const { 'auth-index': _, ...rest } = entry;
        return rest;
      });
    }
  }
  return stringify(config);
}

export interface ConfigUpload {
  parsed: ParsedConfig;
  /** Warnings for the caller: unknown keys, and a kept management secret. */
  warnings: string[];
  /** The upload names no usable secret-key, so the stored one stays. */
  keepsSecret: boolean;
}

/**
 * Reads the body of PUT /config.yaml: YAML text (or an already parsed JSON object).
 * Problems become a 400 whose message names paths, never values, since values may be keys.
 */
export function parseConfigUpload(body: unknown): ConfigUpload {
  let parsed: ParsedConfig;
  try {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const text = body.toString();
      if (text.trim() === '') throw badRequest('empty config');
      parsed = parseConfigYaml(text);
    } else if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      parsed = parseConfigObject(body);
    } else {
      throw badRequest('the body must be config.yaml text');
    }
  } catch (err) {
    if (err instanceof ConfigError) throw badRequest(err.message);
    throw err;
  }
  const keepsSecret = !isUsableManagementSecret(parsed.config['remote-management']?.['secret-key']);
  const warnings = parsed.warnings.map((w) => `${w.path}: ${w.message}`);
  if (keepsSecret) warnings.push(KEPT_SECRET_WARNING);
  return { parsed, warnings, keepsSecret };
}
