import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TEST_DB_PREFIX } from './test-database';

// TEST_DATABASE=postgres: drops every database this run created (the template included); a
// test that removes its own database early has left nothing to drop.
export default function globalTeardown(): void {
  const run = process.env.PARLEY_TEST_RUN;
  if (!run || process.env.PARLEY_TEST_RUN_OWNER !== String(process.pid)) return;
  execFileSync(process.execPath, [path.join(__dirname, 'pg-admin.js'), 'sweep', `${TEST_DB_PREFIX}`, '0', run], { stdio: 'inherit' });
}
