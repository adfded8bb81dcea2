import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';
import { postgresUrl, testDatabaseEngine, TEST_DB_PREFIX } from './test-database';

const PG_ADMIN = path.join(__dirname, 'pg-admin.js');
let created = 0;

/** A new PostgreSQL database copied from the run's migrated template; its name. */
function createPostgresDatabase(label: string): string {
  const run = process.env.PARLEY_TEST_RUN;
  const template = process.env.PARLEY_TEMPLATE_PG;
  if (!run || !template) throw new Error('TEST_DATABASE=postgres but the suite set-up made no template (run the tests through jest, which runs test/support/global-setup.ts)');
  created += 1;
  const tag = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 16);
  const name = `${TEST_DB_PREFIX}${run}_${tag}_${process.pid}_${created}`.slice(0, 63);
  execFileSync(process.execPath, [PG_ADMIN, 'create', name, template], { stdio: 'pipe' });
  return name;
}

/** Drops a database made by createPostgresDatabase (a no-op when it is gone already). */
export function dropPostgresDatabase(url: string): void {
  const name = new URL(url).pathname.slice(1);
  execFileSync(process.execPath, [PG_ADMIN, 'drop', name], { stdio: 'pipe' });
}

/**
 * A copy of the suite's migrated template database, not opened: for a process under test (API,
 * worker) that opens it itself. SQLite: a file in its own temp dir. PostgreSQL
 * (TEST_DATABASE=postgres): a database of its own, dropped by the suite's teardown. The caller
 * removes `dir` (its scratch directory either way).
 */
export function copyTemplateDatabase(label = 'db'): { dir: string; url: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `parley-${label}-`));
  if (testDatabaseEngine() === 'postgres') return { dir, url: postgresUrl(createPostgresDatabase(label)) };
  const template = process.env.PARLEY_TEMPLATE_DB ?? path.resolve(__dirname, '../../tmp/template.db');
  const file = path.join(dir, 'parley.db');
  fs.copyFileSync(template, file);
  return { dir, url: `file:${file}` };
}

/** A fresh migrated database (copied from the suite's template), opened and prepared. */
export async function createTestDatabase(label = 'db'): Promise<{ db: Db; url: string; dir: string; cleanup: () => Promise<void> }> {
  const { dir, url } = copyTemplateDatabase(label);
  const db = openDatabase(url);
  await prepareDatabase(db);
  return {
    db,
    url,
    dir,
    cleanup: async () => {
      await db.$disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
      if (testDatabaseEngine() === 'postgres') dropPostgresDatabase(url);
    },
  };
}
