import { Injectable } from '@nestjs/common';
import {
  normalizeExcludedModels,
  normalizeOAuthExcludedModels,
  OAuthModelAliasSchema,
  sanitizeOAuthModelAlias,
  SettingKeys,
  type OAuthExcludedModelsMap,
  type OAuthModelAliasMap,
} from '@cpa/config';
import { AuditRepository, UnitOfWork, type SettingsRepository } from '@cpa/db';
import { z } from 'zod';
import { ChangeNotifier } from './change-notifier';
import { badRequest, notFound } from './management-error';
import { MANAGEMENT_ACTOR, OK } from './management-answer';

const AliasMapSchema = z.record(z.string(), z.array(OAuthModelAliasSchema.partial({ name: true, alias: true })));
const ExcludedMapSchema = z.record(z.string(), z.array(z.string()));
const AliasPatchSchema = z.object({
  channel: z.string().optional(),
  provider: z.string().optional(),
  aliases: z.array(OAuthModelAliasSchema.partial()).nullish(),
});
const ExcludedPatchSchema = z.object({ provider: z.string(), models: z.array(z.string()).nullish() });

/** A map body as CLIProxyAPI's PUT takes it: the map itself, or `{"items": map}`. */
function mapBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const direct = schema.safeParse(body);
  if (direct.success && !(typeof body === 'object' && body !== null && 'items' in body)) return direct.data;
  const wrapped = z.object({ items: schema }).safeParse(body);
  if (wrapped.success) return wrapped.data.items;
  throw badRequest('invalid body');
}

interface RuleSpec<M> {
  setting: string;
  clean(map: Record<string, never[]> | M | undefined): M | undefined;
}

const ALIAS: RuleSpec<OAuthModelAliasMap> = {
  setting: SettingKeys.oauthModelAlias,
  clean: (m) => sanitizeOAuthModelAlias(m as OAuthModelAliasMap),
};
const EXCLUDED: RuleSpec<OAuthExcludedModelsMap> = {
  setting: SettingKeys.oauthExcludedModels,
  clean: (m) => normalizeOAuthExcludedModels(m as OAuthExcludedModelsMap),
};

/**
 * /oauth-model-alias and /oauth-excluded-models: per-channel maps stored as settings, in
 * CLIProxyAPI's shapes (GET `{"<key>": map}`, PUT a map or `{"items": map}`, PATCH one
 * channel, DELETE `?channel=` / `?provider=`). The model registry of every pod applies them
 * to OAuth credentials after the broadcast.
 */
@Injectable()
export class OAuthModelRulesService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async getAliases(): Promise<{ 'oauth-model-alias': OAuthModelAliasMap }> {
    return { 'oauth-model-alias': (await this.read(ALIAS)) ?? {} };
  }

  putAliases(body: unknown) {
    const map = mapBody(AliasMapSchema, body);
    return this.change(ALIAS, 'put', () => ALIAS.clean(map as OAuthModelAliasMap));
  }

  /** `{"channel"|"provider", "aliases"}`; no aliases left removes the channel (404 when it was not there). */
  patchAliases(body: unknown) {
    const patch = AliasPatchSchema.safeParse(body);
    if (!patch.success) throw badRequest('invalid body');
    const channel = (patch.data.channel ?? patch.data.provider ?? '').trim().toLowerCase();
    if (!channel) throw badRequest('invalid channel');
    const aliases = sanitizeOAuthModelAlias({ [channel]: patch.data.aliases ?? [] })?.[channel];
    return this.change(ALIAS, 'patch', (current) => {
      if (!aliases && !current?.[channel]) throw notFound('channel not found');
      return ALIAS.clean({ ...current, [channel]: aliases ?? [] });
    });
  }

  deleteAliases(query: Record<string, string | undefined>) {
    const channel = (query.channel || query.provider || '').trim().toLowerCase();
    if (!channel) throw badRequest('missing channel');
    return this.change(ALIAS, 'delete', (current) => {
      if (!current?.[channel]) throw notFound('channel not found');
      return ALIAS.clean({ ...current, [channel]: [] });
    });
  }

  async getExcluded(): Promise<{ 'oauth-excluded-models': OAuthExcludedModelsMap }> {
    return { 'oauth-excluded-models': (await this.read(EXCLUDED)) ?? {} };
  }

  putExcluded(body: unknown) {
    const map = mapBody(ExcludedMapSchema, body);
    return this.change(EXCLUDED, 'put', () => EXCLUDED.clean(map));
  }

  /** `{"provider", "models"}`; an empty model list removes the provider (404 when it was not there). */
  patchExcluded(body: unknown) {
    const patch = ExcludedPatchSchema.safeParse(body);
    if (!patch.success) throw badRequest('invalid body');
    const provider = patch.data.provider.trim().toLowerCase();
    if (!provider) throw badRequest('invalid provider');
    const models = normalizeExcludedModels(patch.data.models ?? []);
    return this.change(EXCLUDED, 'patch', (current) => {
      if (!models.length && !current?.[provider]) throw notFound('provider not found');
      return EXCLUDED.clean({ ...current, [provider]: models });
    });
  }

  deleteExcluded(query: Record<string, string | undefined>) {
    const provider = (query.provider ?? '').trim().toLowerCase();
    if (!provider) throw badRequest('missing provider');
    return this.change(EXCLUDED, 'delete', (current) => {
      if (!current?.[provider]) throw notFound('provider not found');
      return EXCLUDED.clean({ ...current, [provider]: [] });
    });
  }

  private async read<M>(
    spec: RuleSpec<M>,
    settings: SettingsRepository = this.uow.repos.settings,
  ): Promise<M | undefined> {
    const value = await settings.get(spec.setting);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? spec.clean(value as M) : undefined;
  }

  private async change<M>(
    spec: RuleSpec<M>,
    verb: string,
    next: (current: M | undefined) => M | undefined,
  ): Promise<typeof OK> {
    const changed = await this.uow.run(
      async ({ settings }) => settings.set(spec.setting, next(await this.read(spec, settings))),
      { lock: 'config' },
    );
    if (changed) {
      await this.audit.record(MANAGEMENT_ACTOR, `${spec.setting}.${verb}`, spec.setting, {});
      await this.notifier.configChanged([spec.setting]);
    }
    return OK;
  }
}
