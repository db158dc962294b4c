import { Injectable } from '@nestjs/common';
import { exportConfig, importConfig } from '@cpa/config';
import { AuditRepository, SecretBox, UnitOfWork } from '@cpa/db';
import { ChangeNotifier } from './change-notifier';
import { parseConfigUpload, renderConfigYaml } from './config-yaml';
import { MANAGEMENT_ACTOR } from './management-answer';

/** The whole configuration as one document: GET /config (JSON), GET and PUT /config.yaml. */
@Injectable()
export class ConfigDocumentService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly box: SecretBox,
    private readonly audit: AuditRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  getConfig(): Promise<Record<string, unknown>> {
    return exportConfig(this.uow.repos, this.box);
  }

  async getConfigYaml(): Promise<string> {
    return renderConfigYaml(await this.getConfig());
  }

  /**
   * Replaces the configuration with an uploaded config.yaml, exactly as the start-up import
   * does (rows imported earlier and gone from the text are removed), except that a missing
   * secret-key keeps the current management secret.
   */
  async putConfigYaml(body: unknown): Promise<{ status: 'ok'; warnings: string[] }> {
    const upload = parseConfigUpload(body);
    const summary = await importConfig(this.uow, this.box, upload.parsed, {
      keepManagementSecret: upload.keepsSecret,
      lockConfig: true,
    });
    const { credentials, clientKeys, providers } = summary;
    await this.audit.record(MANAGEMENT_ACTOR, 'config.put', 'config.yaml', {
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
}
