import {
  OpenAICompatEntrySchema,
  ProviderKeyEntrySchema,
  ProviderKeySections,
  readClientKeys,
  readOpenAICompat,
  readProviderKeys,
  syncClientKeys,
  syncOpenAICompat,
  syncProviderKeys,
  MANAGEMENT_MODE,
  type OpenAICompatEntry,
  type ProviderKeyEntry,
  type ProviderKeySection,
  type SecretCipher,
  type SyncCount,
} from '@cpa/config';
import type { Repositories } from '@cpa/db';
import { z } from 'zod';
import {
  deleteFromEntryList,
  deleteFromStringList,
  parsePutBody,
  patchEntryList,
  patchStringList,
  type EntryListSpec,
  type ListQuery,
} from './list-ops';

/**
 * One list endpoint: how to read the list from Postgres, write it back, and apply
 * CLIProxyAPI's PUT/PATCH/DELETE conventions to it.
 */
export interface ListSection<T> {
  name: string;
  /** The list as GET shows it (provider keys add their `auth-index`). */
  show(repos: Repositories, box: SecretCipher): Promise<unknown[]>;
  read(repos: Repositories, box: SecretCipher): Promise<T[]>;
  write(repos: Repositories, box: SecretCipher, items: T[]): Promise<SyncCount>;
  put(body: unknown): T[];
  patch(list: T[], body: unknown): T[];
  remove(list: T[], query: ListQuery & Record<string, string | undefined>): T[];
}

const apiKeysSection: ListSection<string> = {
  name: 'api-keys',
  show: (repos) => readClientKeys(repos),
  read: (repos) => readClientKeys(repos),
  write: (repos, _box, items) => syncClientKeys(repos, items, MANAGEMENT_MODE),
  put: (body) => parsePutBody(body, z.string().trim().min(1), 'api-keys'),
  patch: patchStringList,
  remove: deleteFromStringList,
};

function providerKeySection(section: ProviderKeySection): ListSection<ProviderKeyEntry> {
  const spec: EntryListSpec<ProviderKeyEntry> = {
    section,
    schema: ProviderKeyEntrySchema,
    keyOf: (entry) => entry['api-key'],
    keyParam: 'api-key',
  };
  return {
    name: section,
    show: (repos, box) => readProviderKeys(repos, box, section),
    // The stored view carries `auth-index`; list operations work on plain entries.
    read: async (repos, box) =>
      (await readProviderKeys(repos, box, section)).map(({ 'auth-index': _, ...entry }) => entry),
    write: (repos, box, items) => syncProviderKeys(repos, box, section, items, MANAGEMENT_MODE),
    put: (body) => parsePutBody(body, ProviderKeyEntrySchema, section),
    patch: (list, body) => patchEntryList(list, body, spec),
    remove: (list, query) => deleteFromEntryList(list, query, spec),
  };
}

const openAICompatSpec: EntryListSpec<OpenAICompatEntry> = {
  section: 'openai-compatibility',
  schema: OpenAICompatEntrySchema,
  keyOf: (entry) => entry.name,
  keyParam: 'name',
};

const openAICompatSection: ListSection<OpenAICompatEntry> = {
  name: 'openai-compatibility',
  show: (repos, box) => readOpenAICompat(repos, box),
  read: (repos, box) => readOpenAICompat(repos, box),
  write: async (repos, box, items) => {
    const { providers, credentials } = await syncOpenAICompat(repos, box, items, MANAGEMENT_MODE);
    return {
      created: providers.created + credentials.created,
      updated: providers.updated + credentials.updated,
      deleted: providers.deleted + credentials.deleted,
      unchanged: providers.unchanged + credentials.unchanged,
    };
  },
  put: (body) => parsePutBody(body, OpenAICompatEntrySchema, 'openai-compatibility'),
  patch: (list, body) => patchEntryList(list, body, openAICompatSpec),
  remove: (list, query) => deleteFromEntryList(list, query, openAICompatSpec),
};

export const LIST_SECTIONS: ReadonlyMap<string, ListSection<unknown>> = new Map<string, ListSection<unknown>>([
  ['api-keys', apiKeysSection as ListSection<unknown>],
  ...ProviderKeySections.map((s) => [s, providerKeySection(s) as ListSection<unknown>] as const),
  ['openai-compatibility', openAICompatSection as ListSection<unknown>],
]);
