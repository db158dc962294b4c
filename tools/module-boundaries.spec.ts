/**
 * The module boundaries of eslint.config.mjs (Nx tags in each package.json), proven through
 * ESLint's Node API: a probe file placed in a pure lib, an I/O lib or an app with a forbidden
 * import is reported, and a permitted import passes. The probe is linted as text under its path
 * (`lintText` + `filePath`), so the config and the Nx project it belongs to are the ones a real
 * file there gets, while nothing is written into the tree that a concurrent build could compile.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
let eslint: ESLint;

async function lintText(path: string, code: string): Promise<ESLint.LintResult> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, path) });
  return result;
}

const lintProbe = (path: string, imported: string) =>
  lintText(path, `import * as dependency from '${imported}';\n\nexport const probe = dependency;\n`);

describe('module boundaries', { timeout: 120_000 }, () => {
  beforeAll(() => {
    eslint = new ESLint({ cwd: root });
  });

  it.each([
    [
      'a pure lib importing an I/O lib',
      'libs/routing/src/__boundary-probe__.ts',
      '@cpa/db',
      '@nx/enforce-module-boundaries',
      'A project tagged with "pure" can only depend on libs tagged with "pure"',
    ],
    [
      'a pure lib importing an I/O package',
      'libs/formats/src/__boundary-probe__.ts',
      'ioredis',
      '@nx/enforce-module-boundaries',
      'A project tagged with "pure" is not allowed to import "ioredis"',
    ],
    [
      'a pure lib importing a node I/O module',
      'libs/contracts/src/__boundary-probe__.ts',
      'node:fs',
      'no-restricted-imports',
      'A pure lib does no I/O',
    ],
    [
      'an app importing an app',
      'apps/scheduler/src/__boundary-probe__.ts',
      '@cpa/gateway',
      '@nx/enforce-module-boundaries',
      'A project tagged with "type:app" can only depend on libs tagged with "type:lib"',
    ],
    [
      'a lib importing an app',
      'libs/management/src/__boundary-probe__.ts',
      '@cpa/scheduler',
      '@nx/enforce-module-boundaries',
      'A project tagged with "type:lib" can only depend on libs tagged with "type:lib"',
    ],
    [
      'production code importing the test helpers',
      'apps/executor/src/__boundary-probe__.ts',
      '@cpa/testing',
      '@nx/enforce-module-boundaries',
      'can only depend on libs tagged with "pure", "io"',
    ],
    [
      "production code importing a lib's test entry point",
      'apps/admin/src/__boundary-probe__.ts',
      '@cpa/db/testing',
      'no-restricted-imports',
      'Test helpers are for tests only.',
    ],
    [
      'the browser console importing workspace code',
      'apps/console/src/__boundary-probe__.ts',
      '@cpa/contracts/management-views',
      '@typescript-eslint/no-restricted-imports',
      'The console imports only types from the workspace',
    ],
  ])('reports %s', async (_case, path, imported, ruleId, message) => {
    const result = await lintProbe(path, imported);
    const reported = result.messages.filter((m) => m.ruleId === ruleId);
    expect(reported.map((m) => m.message).join('\n')).toContain(message);
    expect(reported.every((m) => m.severity === 2)).toBe(true);
    expect(result.errorCount).toBeGreaterThan(0);
  });

  it.each([
    ['a pure lib importing a pure lib', 'libs/routing/src/__boundary-probe__.ts', '@cpa/contracts'],
    ['an I/O lib importing an I/O lib', 'libs/routing-state/src/__boundary-probe__.ts', '@cpa/transport'],
    ['an app importing a lib', 'apps/scheduler/src/__boundary-probe__.ts', '@cpa/routing-state'],
    ['a test importing the test helpers', 'apps/executor/src/__boundary-probe__.spec.ts', '@cpa/testing'],
    ["a test importing a lib's test entry point", 'apps/admin/src/__boundary-probe__.int.spec.ts', '@cpa/db/testing'],
    ["a pure lib's test reading a fixture file", 'libs/formats/src/__boundary-probe__.spec.ts', 'node:fs'],
  ])('permits %s', async (_case, path, imported) => {
    const result = await lintProbe(path, imported);
    expect(result.messages).toEqual([]);
  });

  it('permits the browser console importing the management API answer types', async () => {
    const code =
      "import type { CredentialView } from '@cpa/contracts/management-views';\n\nexport type Probe = CredentialView;\n";
    const result = await lintText('apps/console/src/__boundary-probe__.ts', code);
    expect(result.messages).toEqual([]);
  });
});
