import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { testDatabaseEngine, TEST_DB_PREFIX, postgresUrl } from './test-database';

// Runs once before the suite: migrates a template database that each test copies, so each test
// file gets its own migrated database in milliseconds: a SQLite file (default) or, with
// TEST_DATABASE=postgres, a PostgreSQL database created from the template (CREATE DATABASE ...
// TEMPLATE) and dropped by the test or, at the latest, by the suite's teardown.
export default function globalSetup(): void {
  const root = path.resolve(__dirname, '../..');
  if (testDatabaseEngine() === 'postgres') {
    const admin = path.join(__dirname, 'pg-admin.js');
    // Databases a crashed run left behind (older than a day): dropped. Other runs' are kept.
    execFileSync(process.execPath, [admin, 'sweep', TEST_DB_PREFIX, String(24 * 3600_000)], { stdio: 'inherit' });
    const run = `${Date.now().toString(36)}_${crypto.randomBytes(3).toString('hex')}`;
    const template = `${TEST_DB_PREFIX}${run}_tpl`;
    execFileSync(process.execPath, [admin, 'create', template], { stdio: 'inherit' });
    // The operators' own command (jest's set-up cannot load the workspace sources directly).
    execFileSync(process.execPath, [path.join(root, 'apps/cli/bin/parley.mjs'), 'db', 'migrate'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: postgresUrl(template) },
      stdio: 'pipe',
    });
    process.env.PARLEY_TEST_RUN = run;
    // The teardown drops the run's databases only in this process: a jest started by a test
    // inherits these variables and must not drop its parent's databases.
    process.env.PARLEY_TEST_RUN_OWNER = String(process.pid);
    process.env.PARLEY_TEMPLATE_PG = template;
    return;
  }
  const template = path.join(root, 'tmp', 'template.db');
  // SQLite creates the file but not its directory (a fresh clone has no tmp/).
  fs.mkdirSync(path.dirname(template), { recursive: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: `file:${template}` },
    stdio: 'pipe',
  });
  process.env.PARLEY_TEMPLATE_DB = template;
}
