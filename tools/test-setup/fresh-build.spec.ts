import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildUnits, staleBuildMessage, staleUnits, type BuildUnit } from './fresh-build';

const T = 1_700_000_000_000;

describe('staleUnits', () => {
  const unit = (name: string, sourceAt: number | undefined, builtAt: number | undefined): BuildUnit => ({
    name,
    ...(sourceAt !== undefined ? { newestSource: { path: 'src/index.ts', mtimeMs: sourceAt } } : {}),
    ...(builtAt !== undefined ? { builtAtMs: builtAt } : {}),
  });

  it('names the units with a source newer than their build, or never built', () => {
    const units = [
      unit('libs/a', T, T + 1),
      unit('libs/b', T + 2, T + 1),
      unit('apps/c', T, undefined),
      unit('libs/d', T, T),
    ];
    expect(staleUnits(units).map((u) => u.name)).toEqual(['libs/b', 'apps/c']);
  });

  it('ignores a unit without sources', () => {
    expect(staleUnits([unit('libs/empty', undefined, undefined)])).toEqual([]);
  });

  it('opens its message with the command that fixes it, then says why per unit', () => {
    expect(staleBuildMessage([unit('libs/b', T + 2, T + 1), unit('apps/c', T, undefined)])).toBe(
      'dist is stale: run npm run build\n  libs/b: src/index.ts changed after the last build\n  apps/c: never built',
    );
  });
});

describe('buildUnits', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  /** A repository of two tsc projects and the console, each file written at its time (s since the epoch). */
  function repository(files: Record<string, number>): string {
    const root = mkdtempSync(join(tmpdir(), 'fresh-build-'));
    roots.push(root);
    writeFileSync(
      join(root, 'tsconfig.build.json'),
      JSON.stringify({ files: [], references: [{ path: 'libs/a' }, { path: 'apps/b' }] }),
    );
    // As the projects' own: specs, fixtures and a test entry point are not compiled.
    const tsconfig = {
      compilerOptions: { rootDir: 'src', outDir: 'dist' },
      include: ['src'],
      exclude: ['src/**/*.spec.ts', 'src/**/__fixtures__', 'src/testing.ts'],
    };
    for (const project of ['libs/a', 'apps/b']) {
      mkdirSync(join(root, project), { recursive: true });
      writeFileSync(join(root, project, 'tsconfig.json'), JSON.stringify(tsconfig));
    }
    for (const [path, at] of Object.entries(files)) {
      const file = join(root, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, '');
      utimesSync(file, at, at);
    }
    return root;
  }

  it('compares the newest compiled source of each project with its build marker', () => {
    const root = repository({
      'libs/a/src/index.ts': 100,
      'libs/a/src/deep/logic.ts': 300,
      'libs/a/dist/.tsbuildinfo': 200,
      'apps/b/src/main.ts': 100,
      'apps/b/dist/.tsbuildinfo': 200,
      'apps/console/src/App.tsx': 100,
      'apps/console/src/styles.css': 150,
      'apps/console/dist/index.html': 200,
    });
    const units = buildUnits(root);
    expect(units).toEqual([
      { name: 'libs/a', newestSource: { path: join('src', 'deep', 'logic.ts'), mtimeMs: 300_000 }, builtAtMs: 200_000 },
      { name: 'apps/b', newestSource: { path: join('src', 'main.ts'), mtimeMs: 100_000 }, builtAtMs: 200_000 },
      { name: 'apps/console', newestSource: { path: join('src', 'styles.css'), mtimeMs: 150_000 }, builtAtMs: 200_000 },
    ]);
    expect(staleUnits(units).map((u) => u.name)).toEqual(['libs/a']);
  });

  it("leaves out what the build does not compile: what the project's tsconfig excludes, documents, console specs", () => {
    const root = repository({
      'libs/a/src/index.ts': 100,
      'libs/a/src/index.spec.ts': 900,
      'libs/a/src/store.int.spec.ts': 900,
      'libs/a/src/__fixtures__/helper.ts': 900,
      'libs/a/src/testing.ts': 900,
      'libs/a/src/README.md': 900,
      'libs/a/dist/.tsbuildinfo': 200,
      'apps/b/src/main.ts': 100,
      'apps/b/dist/.tsbuildinfo': 200,
      'apps/console/src/App.tsx': 100,
      'apps/console/src/App.spec.tsx': 900,
      'apps/console/dist/index.html': 200,
    });
    expect(staleUnits(buildUnits(root))).toEqual([]);
  });

  it('reports a project that was never built', () => {
    const root = repository({
      'libs/a/src/index.ts': 100,
      'libs/a/dist/.tsbuildinfo': 200,
      'apps/b/src/main.ts': 100,
      'apps/console/src/App.tsx': 100,
      'apps/console/dist/index.html': 200,
    });
    expect(staleUnits(buildUnits(root))).toEqual([
      { name: 'apps/b', newestSource: { path: join('src', 'main.ts'), mtimeMs: 100_000 } },
    ]);
  });
});
