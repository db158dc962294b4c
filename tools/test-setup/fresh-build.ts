/**
 * Whether the build outputs are older than their sources. The e2e and fault suites start
 * the built services (dist/), so a run after an edit without `npm run build` would test the
 * old code and pass or fail for the wrong reason; their global setup refuses to start then.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** One built project: its newest source file and when its build output was written. */
export interface BuildUnit {
  /** The project directory, relative to the repository root. */
  name: string;
  /** Newest source file (path relative to the project) and its modification time; undefined when it has none. */
  newestSource?: { path: string; mtimeMs: number };
  /** Modification time of the build's marker file; undefined when it was never built. */
  builtAtMs?: number;
}

/** The units whose build is missing or older than one of their sources. */
export function staleUnits(units: readonly BuildUnit[]): BuildUnit[] {
  return units.filter(
    (unit) =>
      unit.newestSource !== undefined && (unit.builtAtMs === undefined || unit.newestSource.mtimeMs > unit.builtAtMs),
  );
}

/** What a developer reads when the build is stale: the command that fixes it, then why. */
export function staleBuildMessage(stale: readonly BuildUnit[]): string {
  const lines = stale.map((unit) =>
    unit.builtAtMs === undefined
      ? `  ${unit.name}: never built`
      : `  ${unit.name}: ${unit.newestSource!.path} changed after the last build`,
  );
  return ['dist is stale: run npm run build', ...lines].join('\n');
}

function newestOf(projectDir: string, files: readonly string[]): BuildUnit['newestSource'] {
  let newest: BuildUnit['newestSource'];
  for (const path of files) {
    const mtimeMs = statSync(path).mtimeMs;
    if (!newest || mtimeMs > newest.mtimeMs) newest = { path: relative(projectDir, path), mtimeMs };
  }
  return newest;
}

/** The files tsc compiles for a project: its tsconfig's include minus its exclude (specs, fixtures, test entry points). */
function compiledFiles(projectDir: string): string[] {
  const configPath = join(projectDir, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(`${configPath}: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
  return ts.parseJsonConfigFileContent(config, ts.sys, projectDir).fileNames;
}

/** What Vite bundles for the console: everything under src/ but its specs. */
function bundledFiles(projectDir: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !/\.spec\.tsx?$/.test(entry.name)) files.push(path);
    }
  };
  const src = join(projectDir, 'src');
  if (existsSync(src)) walk(src);
  return files;
}

function mtimeOf(path: string): number | undefined {
  return existsSync(path) ? statSync(path).mtimeMs : undefined;
}

/**
 * Every unit `npm run build` produces: the projects of tsconfig.build.json (tsc -b rewrites
 * `dist/.tsbuildinfo` on every build, also when nothing changed) and the console's bundle
 * (Vite writes `dist/index.html` anew each build).
 */
export function buildUnits(root: string): BuildUnit[] {
  const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
    references: { path: string }[];
  };
  const unit = (name: string, sources: (dir: string) => string[], marker: string): BuildUnit => {
    const dir = join(root, name);
    const newest = newestOf(dir, sources(dir));
    const builtAtMs = mtimeOf(join(dir, marker));
    return { name, ...(newest ? { newestSource: newest } : {}), ...(builtAtMs !== undefined ? { builtAtMs } : {}) };
  };
  return [
    ...build.references.map((ref) => unit(ref.path, compiledFiles, 'dist/.tsbuildinfo')),
    unit('apps/console', bundledFiles, 'dist/index.html'),
  ];
}
