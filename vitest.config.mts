import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Tests import libraries from source (no build needed); SWC keeps the decorator
// metadata NestJS dependency injection relies on, which esbuild would drop.
const libsDir = fileURLToPath(new URL('./libs/', import.meta.url));
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: [
      { find: /^@cpa\/([a-z-]+)$/, replacement: `${libsDir}$1/src/index.ts` },
      // Subpath entry points (`@cpa/db/light`): `libs/<lib>/src/<subpath>.ts`.
      { find: /^@cpa\/([a-z-]+)\/([a-z-]+)$/, replacement: `${libsDir}$1/src/$2.ts` },
    ],
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          include: ['libs/*/src/**/*.spec.ts', 'apps/*/src/**/*.spec.ts', 'tools/**/*.spec.ts'],
          exclude: ['**/*.int.spec.ts', '**/node_modules/**'],
        },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['libs/*/src/**/*.int.spec.ts', 'apps/*/src/**/*.int.spec.ts'],
          globalSetup: ['./tools/test-setup/integration.global.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.spec.ts'],
          // These suites start the built services: a dist/ older than the sources fails the run.
          globalSetup: ['./tools/test-setup/fresh-build.global.ts', './tools/test-setup/integration.global.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        ...shared,
        test: {
          // The fault suite (`npm run faults`): its own stack under load, in a group of its own
          // (groupOrder) so no other suite runs beside it and distorts its recovery times.
          name: 'faults',
          include: ['e2e/**/*.faults.spec.ts'],
          globalSetup: ['./tools/test-setup/fresh-build.global.ts', './tools/test-setup/integration.global.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
