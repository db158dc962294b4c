import { readFile } from 'node:fs/promises';
import { Injectable, Logger } from '@nestjs/common';
import { importConfig, parseConfigYaml, type ImportSummary, type SyncCount } from '@cpa/config';
import { AuditRepository, SecretBox, UnitOfWork } from '@cpa/db';
import { ChangeNotifier } from './change-notifier';

const describe = (c: SyncCount) =>
  `${c.created} new, ${c.updated} updated, ${c.deleted} removed, ${c.unchanged} unchanged`;

/** Imports a CLIProxyAPI config.yaml into Postgres and tells every pod to reload. */
@Injectable()
export class ConfigImportService {
  private readonly logger = new Logger('ConfigImport');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async importFile(path: string): Promise<ImportSummary> {
    const parsed = parseConfigYaml(await readFile(path, 'utf8'));
    const summary = await importConfig(this.uow, this.box, parsed);
    this.logger.log(
      `imported ${path}: credentials ${describe(summary.credentials)}; client keys ${describe(summary.clientKeys)}; ` +
        `openai-compatibility providers ${describe(summary.providers)}; ${summary.settings} settings changed; ${summary.warnings.length} warnings`,
    );
    for (const warning of summary.warnings) this.logger.warn(`${path}: ${warning.path}: ${warning.message}`);
    await this.audit.record('config-import', 'config.import', path, {
      credentialsCreated: summary.credentials.created,
      credentialsUpdated: summary.credentials.updated,
      credentialsDeleted: summary.credentials.deleted,
      settingsChanged: summary.settings,
      warnings: summary.warnings.map((w) => w.path),
    });
    await this.notifier.configChanged(['import']);
    return summary;
  }
}
