import { Injectable } from '@nestjs/common';
import { AuditRepository, UnitOfWork } from '@cpa/db';
import { z } from 'zod';
import { ChangeNotifier } from './change-notifier';
import { parseItem } from './list-ops';
import { MANAGEMENT_ACTOR, OK } from './management-answer';
import { ManagementError } from './management-error';
import { scalarSpec, type ScalarSpec } from './scalars';

const ScalarBodySchema = z.custom<{ value: unknown }>(
  (body) => typeof body === 'object' && body !== null && (body as { value?: unknown }).value !== undefined,
  'value is required',
);

/**
 * The scalar settings (`request-retry`, `max-retry-credentials`, `max-retry-interval`,
 * `force-model-prefix`, `routing/*`, `proxy-url`; table in scalars.ts): GET, PUT/PATCH
 * `{"value"}` and DELETE (back to the default). A change is audited with the value before
 * and after, and broadcast.
 */
@Injectable()
export class ScalarSettingsService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async get(path: string): Promise<Record<string, unknown>> {
    const spec = this.scalar(path);
    const value = (await this.uow.repos.settings.get(spec.setting)) ?? spec.fallback;
    return { [spec.responseKey]: spec.show ? spec.show(value) : value };
  }

  async set(path: string, body: unknown): Promise<typeof OK> {
    const spec = this.scalar(path);
    const { value: raw } = parseItem(ScalarBodySchema, body, '');
    const value = parseItem(spec.input, raw, 'value');
    const previous = (await this.uow.repos.settings.get(spec.setting)) ?? spec.fallback;
    const changed = await this.uow.run(({ settings }) => settings.set(spec.setting, value));
    if (changed) {
      const audited = (v: unknown) =>
        spec.audited
          ? spec.audited(v)
          : typeof v === 'object' && v !== null
            ? JSON.stringify(v)
            : (v as string | number | boolean | null);
      // before_value: the console's audit page shows it as the "before" of the change.
      await this.audit.record(MANAGEMENT_ACTOR, 'setting.update', spec.setting, {
        before_value: audited(previous),
        value: audited(value),
      });
      await this.notifier.configChanged([spec.setting]);
    }
    return OK;
  }

  /** DELETE of a scalar: back to the default (CLIProxyAPI has it for `proxy-url`). */
  async reset(path: string): Promise<typeof OK> {
    const spec = this.scalar(path);
    const changed = await this.uow.run(({ settings }) => settings.set(spec.setting, undefined));
    if (changed) {
      await this.audit.record(MANAGEMENT_ACTOR, 'setting.delete', spec.setting, {});
      await this.notifier.configChanged([spec.setting]);
    }
    return OK;
  }

  private scalar(path: string): ScalarSpec {
    const spec = scalarSpec(path);
    if (!spec) throw new ManagementError(404, 'not found');
    return spec;
  }
}
