import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadEnv, type AuthFileImportResult, type Env } from '@cpa/config';
import { DbModule } from '@cpa/db';
import { AuthFilesService, ManagementModule } from '@cpa/management';
import { TransportModule } from '@cpa/transport';

/**
 * `npm run import-auth -- <dir|file...>`: imports CLIProxyAPI token files into Postgres
 * (DATABASE_URL, secrets encrypted with CPA_SECRET_KEY) with the admin's own service, prints
 * what happened to each file and broadcasts the change so running pods reload. Files are only
 * read. Exit code 0 when every file imported (or was unchanged), 1 when any was refused.
 */

@Module({})
class ImportAuthModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: ImportAuthModule,
      imports: [
        DbModule.forRoot({ databaseUrl: env.databaseUrl }),
        TransportModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
        ManagementModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
      ],
    };
  }
}

const describe = (r: AuthFileImportResult) => {
  const ids = r.credentialIds.length > 1 ? ` (${r.credentialIds.length} credentials)` : '';
  return r.outcome === 'error' ? `error      ${r.name}: ${r.error}` : `${r.outcome.padEnd(10)} ${r.name}${ids}`;
};

export async function runImportAuth(
  paths: readonly string[],
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  if (!paths.length) {
    write('usage: npm run import-auth -- <auth-dir|token-file.json> [...]');
    return 2;
  }
  const env = loadEnv();
  const app = await NestFactory.createApplicationContext(ImportAuthModule.forRoot(env), { logger: ['error', 'warn'] });
  const results: AuthFileImportResult[] = [];
  try {
    const service = app.get(AuthFilesService);
    for (const path of paths) {
      try {
        const imported = await service.importPath(path, 'import-auth');
        if (!imported.length) write(`(no .json files in ${path})`);
        for (const result of imported) write(describe(result));
        results.push(...imported);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!code) throw err;
        write(`error      ${path}: cannot read (${code})`);
        results.push({ name: path, outcome: 'error', credentialIds: [], removedIds: [], error: code });
      }
    }
  } finally {
    await app.close();
  }
  const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
  write(
    `${results.length} files: ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('error')} errors`,
  );
  return count('error') ? 1 : 0;
}

if (require.main === module) {
  runImportAuth(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      // Start-up failures (environment, database, key) carry no secrets by construction.
      console.error(`import-auth failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
