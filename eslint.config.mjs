import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';
import { readdirSync, readFileSync } from 'node:fs';

// Module boundaries. Every app and lib is an Nx project inferred from its package.json, whose
// `nx.tags` say what it is: `type:app` or `type:lib`; `pure` for libs that decide without I/O
// (contracts, routing, formats), `io` for the rest; `testing` (neither) for the test helpers.
const ioPackages = [
  'ioredis',
  'pg',
  '@prisma/*',
  'undici',
  'bullmq',
  'fastify',
  '@fastify/*',
  '@nestjs/*',
  'pino*',
  'prom-client',
];
const nodeIo = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'tls',
  'dns',
  'dgram',
  'child_process',
  'cluster',
  'worker_threads',
];
const boundaryConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] }, // apps never import apps
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] }, // libs never import apps
  // Pure libs import only pure libs and no I/O package (node built-ins: `no-restricted-imports` below).
  { sourceTag: 'pure', onlyDependOnLibsWithTags: ['pure'], bannedExternalImports: ioPackages },
];
const boundaries = (depConstraints, allow = []) => ({
  '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow, depConstraints }],
});
// A lib's test entry point (`@cpa/db/testing`, `@cpa/catalog/testing`) counts as test code.
const testFiles = ['**/*.spec.ts', '**/*.spec.tsx', '**/__fixtures__/**/*.ts', '**/src/testing.ts'];
/** Production code never imports a lib's test entry point. */
const noTestingEntryPoints = [{ group: ['@cpa/*/testing'], message: 'Test helpers are for tests only.' }];
// The projects and their tags, read from the package.json files Nx infers them from.
const projects = ['apps', 'libs'].flatMap((dir) =>
  readdirSync(new URL(`./${dir}/`, import.meta.url)).flatMap((name) => {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`./${dir}/${name}/package.json`, import.meta.url), 'utf8'));
      return [{ name: pkg.name, root: `${dir}/${name}`, tags: pkg.nx?.tags ?? [] }];
    } catch {
      return [];
    }
  }),
);
const pureLibs = projects.filter((p) => p.tags.includes('pure')).map((p) => p.root);
// The rule reads Nx's cached project graph and silently skips itself when there is none (a fresh
// clone) and uses stale tags after a tag edit, so build the graph when it is missing or out of date.
async function ensureProjectGraph() {
  const { readCachedProjectGraph, createProjectGraphAsync } = await import('@nx/devkit');
  const sameTags = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  try {
    const nodes = readCachedProjectGraph().nodes;
    if (
      projects.every(
        (p) =>
          nodes[p.name] &&
          sameTags(
            nodes[p.name].data.tags.filter((t) => !t.startsWith('npm:')),
            p.tags,
          ),
      )
    )
      return;
  } catch {
    // no cached graph yet
  }
  process.env.NX_DAEMON ??= 'false'; // linting must not leave an Nx daemon running
  await createProjectGraphAsync({ exitOnError: false });
}
await ensureProjectGraph();

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/db/src/generated/**', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    files: ['**/*.mjs', 'tools/**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
      },
    },
  },
  {
    files: ['apps/**/*.{ts,tsx,mts}', 'libs/**/*.{ts,tsx,mts}'],
    plugins: { '@nx': nx },
    // Production code never imports the test helpers (`notDependOnLibsWithTags` would also follow
    // the package.json devDependency edges, so this names what production code may import).
    rules: boundaries([...boundaryConstraints, { sourceTag: '*', onlyDependOnLibsWithTags: ['pure', 'io'] }]),
  },
  {
    // Tests may use @cpa/testing (mock upstreams, throwaway databases), also in pure libs.
    files: ['apps', 'libs'].flatMap((dir) => testFiles.map((glob) => `${dir}/${glob}`)),
    plugins: { '@nx': nx },
    // They may also run the workspace scripts in tools/ (migrations, Redis key cleanup), no project.
    rules: boundaries(
      boundaryConstraints.map((c) =>
        c.sourceTag === 'pure' ? { sourceTag: 'pure', onlyDependOnLibsWithTags: ['pure', 'testing'] } : c,
      ),
      ['^(\\.\\./)+tools/[a-z-]+\\.mjs$'],
    ),
  },
  {
    files: ['apps/**/*.{ts,tsx,mts}', 'libs/**/*.{ts,tsx,mts}'],
    ignores: testFiles,
    rules: { 'no-restricted-imports': ['error', { patterns: noTestingEntryPoints }] },
  },
  {
    // The console is a browser bundle: from the workspace it takes types only (the management
    // API's answer shapes in @cpa/contracts/management-views), never code written for Node.
    files: ['apps/console/src/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@cpa/*'],
              allowTypeImports: true,
              message: 'The console imports only types from the workspace (`import type`).',
            },
          ],
        },
      ],
    },
  },
  {
    files: pureLibs.map((root) => `${root}/src/**/*.ts`),
    ignores: testFiles,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: noTestingEntryPoints,
          paths: nodeIo
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({
              name,
              message: 'A pure lib does no I/O: move this to an I/O lib and pass the data in.',
            })),
        },
      ],
    },
  },
);
