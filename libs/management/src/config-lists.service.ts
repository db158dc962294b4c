import { Injectable } from '@nestjs/common';
import { AuditRepository, SecretBox, UnitOfWork } from '@cpa/db';
import { ChangeNotifier } from './change-notifier';
import type { ListQuery } from './list-ops';
import { MANAGEMENT_ACTOR, OK } from './management-answer';
import { ManagementError } from './management-error';
import { LIST_SECTIONS, type ListSection } from './sections';

/**
 * The list sections of the configuration (`api-keys`, `claude-api-key`, `gemini-api-key`,
 * `codex-api-key`, `openai-compatibility`): GET, and PUT / PATCH / DELETE with CLIProxyAPI's
 * conventions. Each change is a read-modify-write in one transaction under the config lock,
 * audited (counts, never secrets) and broadcast.
 */
@Injectable()
export class ConfigListsService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async get(name: string): Promise<Record<string, unknown[]>> {
    const section = this.section(name);
    return { [name]: await section.show(this.uow.repos, this.box) };
  }

  put(name: string, body: unknown): Promise<typeof OK> {
    const section = this.section(name);
    const items = section.put(body);
    return this.change(section, 'put', () => items);
  }

  patch(name: string, body: unknown): Promise<typeof OK> {
    const section = this.section(name);
    return this.change(section, 'patch', (current) => section.patch(current, body));
  }

  remove(name: string, query: ListQuery & Record<string, string | undefined>): Promise<typeof OK> {
    const section = this.section(name);
    return this.change(section, 'delete', (current) => section.remove(current, query));
  }

  private async change(
    section: ListSection<unknown>,
    verb: string,
    change: (current: unknown[]) => unknown[],
  ): Promise<typeof OK> {
    const count = await this.uow.run(
      async (repos) => section.write(repos, this.box, change(await section.read(repos, this.box))),
      { lock: 'config' },
    );
    if (count.created + count.updated + count.deleted > 0) {
      await this.audit.record(MANAGEMENT_ACTOR, `${section.name}.${verb}`, section.name, {
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
}
