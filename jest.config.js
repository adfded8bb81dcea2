/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Workspace packages export their TypeScript sources under this condition (docs/build.md):
  // tests run the sources, never a stale dist/.
  testEnvironmentOptions: { customExportConditions: ['@parley/source', 'node', 'node-addons'] },
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/apps/*/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/generated/', '/.stryker-tmp/', '<rootDir>/reports/'],
  // A mutation run's sandbox holds a copy of the workspace: never resolve modules from it.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp/', '<rootDir>/reports/'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
