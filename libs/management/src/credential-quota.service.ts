import { Injectable } from '@nestjs/common';
import { AuditRepository, UnitOfWork } from '@cpa/db';
import { z } from 'zod';
import { ChangeNotifier } from './change-notifier';
import { parseItem } from './list-ops';
import { MANAGEMENT_ACTOR } from './management-answer';
import { notFound } from './management-error';

const ResetQuotaSchema = z.object({ auth_index: z.string().trim().min(1, 'auth_index is required') });

/** POST /reset-quota: a credential's cooldowns. */
@Injectable()
export class CredentialQuotaService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  /**
   * Clears a credential's cooldowns. The live state is the scheduler's (in Redis), which
   * clears it on the broadcast; here the Postgres mirror is cleared and its models reported.
   */
  async reset(body: unknown): Promise<{ status: 'ok'; auth_index: string; models: string[] }> {
    const { auth_index: id } = parseItem(ResetQuotaSchema, body, '');
    const models = (await this.uow.run(({ credentials }) => credentials.clearModelStates(id)))?.sort();
    if (!models) throw notFound('auth not found');
    await this.audit.record(MANAGEMENT_ACTOR, 'credential.reset-quota', id, { models });
    await this.notifier.quotaReset(id, models);
    return { status: 'ok', auth_index: id, models };
  }
}
