// Mutation testing (Stryker, jest runner). One line per module: the files to mutate and the
// unit tests that must kill their mutants. Only those tests run (no e2e, no Redis, no SQLite),
// one mutant at a time, so a module takes minutes.
//
//   npm run mutation                          every module (scripts/mutation.mjs: Stryker on Node 20)
//   npm run mutation -- --incremental         only mutants whose code or tests changed since the
//                                             last run (reports/mutation/incremental.json: git
//                                             ignores reports/, CI caches that file between runs)
//   MUTATION_MODULES=domain npm run mutation  some modules (comma-separated names)
import os from 'node:os';
import path from 'node:path';
import jestConfig from './jest.config.js';

// Unit tests only: the suite's global setup migrates a database they do not use.
const { globalSetup: _migrate, ...unitJestConfig } = jestConfig;

const modules = {
  domain: { mutate: ['packages/domain/src/**/*.ts'], tests: ['packages/domain/src/**/*.test.ts'] },
  'draft-check': { mutate: ['packages/llm/src/draft-check.ts'], tests: ['packages/llm/src/draft-check.test.ts'] },
  'retry-policy': {
    mutate: ['packages/contracts/src/policy.ts', 'packages/contracts/src/errors.ts', 'packages/llm/src/anthropic-errors.ts'],
    tests: ['packages/contracts/src/policy.test.ts', 'packages/contracts/src/errors.test.ts', 'packages/llm/src/anthropic-errors.test.ts'],
  },
  redaction: { mutate: ['packages/logging/src/redact.ts'], tests: ['packages/logging/src/redact.test.ts'] },
  'mail-parsers': {
    mutate: ['packages/google/src/{message.parser,reply-text,address.parser,html-text,mime.builder}.ts'],
    tests: ['packages/google/src/{message.parser,reply-text,address.parser,html-text,mime.builder}.test.ts'],
  },
};

const wanted = (process.env.MUTATION_MODULES ?? Object.keys(modules).join(',')).split(',').map((name) => name.trim()).filter(Boolean);
const unknown = wanted.filter((name) => !(name in modules));
if (unknown.length > 0) throw new Error(`MUTATION_MODULES names no module: ${unknown.join(', ')} (known: ${Object.keys(modules).join(', ')})`);
const selected = wanted.map((name) => modules[name]);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    config: {
      ...unitJestConfig,
      testMatch: selected.flatMap((m) => m.tests.map((glob) => `<rootDir>/${glob}`)),
      // Only the selected modules' packages are crawled: jest's start-up (its file map of the
      // whole sandbox copy) was most of the cost of each mutant.
      roots: [...new Set(selected.flatMap((m) => m.tests.map((glob) => `<rootDir>/${glob.split('/').slice(0, 2).join('/')}`)))],
    },
    enableFindRelatedTests: false,
  },
  // Test files and test-only support (the independent ceiling oracle) are not product code.
  mutate: [...selected.flatMap((m) => m.mutate), '!**/*.test.ts', '!**/*.oracle.ts'],
  coverageAnalysis: 'perTest',
  // Module-level tables (currency words, counted nouns) would each need the whole test run.
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 30_000,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // A run scoring under 85% fails (the goal is 85% per module; per-module scores: docs/testing.md).
  thresholds: { high: 90, low: 85, break: 85 },
  // The sandbox copy of the repository lives outside it, so other jest runs never see its files.
  tempDirName: path.join(os.tmpdir(), 'parley-stryker'),
  cleanTempDir: 'always',
};
